import { exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";

describe("health", () => {
  it("answers ok without auth", async () => {
    const res = await exports.default.fetch("http://gw.test/_keygate/v1/health");
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ data: { status: "ok", config: "valid" } });
  });
});
