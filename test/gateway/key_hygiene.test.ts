// A careless client that writes a key into the URL it calls (`?api_key=`, a path segment): the key
// would reach the origin and every log on the way in full. Refused 400 before anything, never forwarded.
import { env, exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { containsKey } from "../../src/keys/format";
import { seedKey, unknownKey } from "./seed";

async function errorCode(res: Response): Promise<string> {
  return ((await res.json()) as { error: { code: string } }).error.code;
}

describe("an API key in the URL is refused, never forwarded", () => {
  it.each([
    ["the query", (key: string) => `/demo/items?api_key=${key}`],
    ["the query, among other parameters", (key: string) => `/demo/items?page=2&token=${key}&x=1`],
    ["a path segment", (key: string) => `/demo/keys/${key}/check`],
  ])("in %s: 400 invalid_request, the origin not called, nothing recorded for the key", async (_where, url) => {
    const { key, id } = await seedKey({ scopes: ["demo:read"] });
    const res = await exports.default.fetch(`http://gw.test${url(key)}`, { headers: { "x-api-key": key } });
    expect(res.status).toBe(400);
    expect(res.headers.get("x-demo-origin")).toBeNull();
    expect(await errorCode(res)).toBe("invalid_request");
    const { results } = await env.DB.prepare("SELECT path FROM usage_recent WHERE key_id = ?").bind(id).all();
    expect(results).toEqual([]);
  });

  it("someone else's key (or any key-shaped string) in the URL is refused too; a key-like but shorter string is not", async () => {
    const { key } = await seedKey({ scopes: ["demo:read"] });
    expect((await exports.default.fetch(`http://gw.test/demo/items?ref=${unknownKey()}`, { headers: { "x-api-key": key } })).status).toBe(400);
    const ok = await exports.default.fetch(`http://gw.test/demo/kg_items?ref=kg_short`, { headers: { "x-api-key": key } });
    expect(ok.status).toBe(200);
    await ok.body?.cancel();
  });
});

describe("containsKey", () => {
  it("finds key-shaped runs for the configured prefix only", () => {
    const key = unknownKey();
    expect(containsKey("/demo/items/42", "kg_")).toBe(false);
    expect(containsKey(`/a/${key}`, "kg_")).toBe(true);
    expect(containsKey(`?k=${key}&x=1`, "kg_")).toBe(true);
    expect(containsKey("/a/kg_short", "kg_")).toBe(false);
    expect(containsKey(`/a/${key}`, "mayo_ak_")).toBe(false);
    expect(containsKey(`/a/${key.replace("kg_", "mayo_ak_")}`, "mayo_ak_")).toBe(true);
  });
});
