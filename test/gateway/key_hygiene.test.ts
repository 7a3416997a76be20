// A careless client that writes its key into the path it calls: the call is proxied as sent (the path
// is the client's), but keygate stores no key with it (the "recent calls" sample keeps the path).
import { env } from "cloudflare:workers";
import { exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { redactKeys } from "../../src/keys/format";
import { eventually, seedKey, unknownKey } from "./seed";

describe("a key in the called path is not stored with the call", () => {
  it("the recent-calls sample shows it as identifier...last4", async () => {
    const { key, id } = await seedKey({ scopes: ["demo:read"] });
    const other = unknownKey();
    const res = await exports.default.fetch(`http://gw.test/demo/keys/${key}/x/${other}`, { headers: { "x-api-key": key } });
    expect(res.status).toBe(200);
    await res.body?.cancel();
    const paths = await eventually(async () => {
      const { results } = await env.DB.prepare("SELECT path FROM usage_recent WHERE key_id = ?").bind(id).all<{ path: string }>();
      return results.length > 0 ? results.map((r) => r.path) : undefined;
    });
    expect(paths).toEqual([`/demo/keys/${key.slice(0, 11)}...${key.slice(-4)}/x/${other.slice(0, 11)}...${other.slice(-4)}`]);
    expect(paths.join(" ")).not.toContain(key);
  });
});

describe("redactKeys", () => {
  it("masks every key-shaped run, leaves everything else alone", () => {
    const key = unknownKey();
    expect(redactKeys("/demo/items/42", "kg_")).toBe("/demo/items/42");
    expect(redactKeys(`/a/${key}`, "kg_")).toBe(`/a/${key.slice(0, 11)}...${key.slice(-4)}`);
    expect(redactKeys(`/a/${key}${key}`, "kg_")).toBe(`/a/${key.slice(0, 11)}...${key.slice(-4)}${key.slice(0, 11)}...${key.slice(-4)}`);
    expect(redactKeys("/a/kg_short", "kg_")).toBe("/a/kg_short");
    expect(redactKeys(`/a/${key.replace("kg_", "mayo_ak_")}`, "mayo_ak_")).not.toContain(key.slice(3));
  });
});
