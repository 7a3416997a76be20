import { describe, expect, it } from "vitest";
import { newId } from "./ids";

describe("newId", () => {
  it("prefixes the kind and adds 20 random base62 characters", () => {
    expect(newId("key")).toMatch(/^key_[0-9A-Za-z]{20}$/);
    expect(newId("org")).toMatch(/^org_[0-9A-Za-z]{20}$/);
    expect(newId("evt")).toMatch(/^evt_[0-9A-Za-z]{20}$/);
    expect(new Set(Array.from({ length: 500 }, () => newId("key"))).size).toBe(500);
  });
});
