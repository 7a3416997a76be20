import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env, exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { handleRequest } from "../../src/app";
import type { Env } from "../../src/env";
import { checksumOf } from "../../src/keys/format";
import { seedKey, unknownKey } from "./seed";

const gateway = (path: string, init?: RequestInit) => exports.default.fetch(`http://gw.test${path}`, init);

async function expectError(res: Response, status: number, code: string): Promise<void> {
  expect(res.status).toBe(status);
  expect(res.headers.get("content-type")).toContain("application/json");
  const body = (await res.json()) as { error: { code: string; message: string } };
  expect(body.error.code).toBe(code);
  expect(body.error.message).toEqual(expect.any(String));
}

describe("credentials are accepted from each documented header", () => {
  it.each([
    ["Authorization: Bearer", (key: string) => ({ authorization: `Bearer ${key}` })],
    ["Authorization: ApiKey", (key: string) => ({ authorization: `ApiKey ${key}` })],
    ["X-API-Key", (key: string) => ({ "x-api-key": key })],
    ["the same key in both headers", (key: string) => ({ authorization: `Bearer ${key}`, "x-api-key": key })],
  ])("%s", async (_name, headers) => {
    const { key } = await seedKey({ scopes: ["demo:read"] });
    const res = await gateway("/demo/hello", { headers: headers(key) });
    expect(res.status).toBe(200);
    expect(((await res.json()) as { path: string }).path).toBe("/demo/hello");
  });
});

describe("every 401 carries its code and WWW-Authenticate", () => {
  it("no key at all: missing_credentials, with a challenge that names no error (RFC 6750 §3.1)", async () => {
    const res = await gateway("/demo/hello");
    expect(res.headers.get("www-authenticate")).toBe('Bearer realm="keygate"');
    await expectError(res, 401, "missing_credentials");
  });

  it.each([
    ["wrong prefix", () => "xx_" + unknownKey().slice(3)],
    [
      "bad checksum",
      () => {
        const key = unknownKey();
        return key.slice(0, -1) + (key.endsWith("0") ? "1" : "0");
      },
    ],
    ["too short", () => unknownKey().slice(0, -2)],
    ["not base62", () => "kg_" + "-".repeat(43) + checksumOf("kg_" + "-".repeat(43))],
  ])("%s: malformed_key", async (_name, makeKey) => {
    const res = await gateway("/demo/hello", { headers: { "x-api-key": makeKey() } });
    expect(res.headers.get("www-authenticate")).toBe('Bearer realm="keygate", error="invalid_token"');
    await expectError(res, 401, "malformed_key");
  });

  it("an Authorization scheme other than Bearer/ApiKey: malformed_key", async () => {
    const res = await gateway("/demo/hello", { headers: { authorization: "Basic dXNlcjpwYXNz" } });
    expect(res.headers.get("www-authenticate")).toContain("invalid_request");
    await expectError(res, 401, "malformed_key");
  });

  it("a well-formed key nobody issued: invalid_key", async () => {
    const res = await gateway("/demo/hello", { headers: { authorization: `Bearer ${unknownKey()}` } });
    expect(res.headers.get("www-authenticate")).toBe('Bearer realm="keygate", error="invalid_token"');
    await expectError(res, 401, "invalid_key");
  });

  it("a revoked key: key_revoked", async () => {
    const { key } = await seedKey({ revokedAt: Date.now() - 1000 });
    const res = await gateway("/demo/hello", { headers: { "x-api-key": key } });
    expect(res.headers.get("www-authenticate")).toContain("invalid_token");
    await expectError(res, 401, "key_revoked");
  });

  it("an expired key: key_expired", async () => {
    const { key } = await seedKey({ expiresAt: Date.now() - 1000 });
    const res = await gateway("/demo/hello", { headers: { "x-api-key": key } });
    expect(res.headers.get("www-authenticate")).toContain("invalid_token");
    await expectError(res, 401, "key_expired");
  });
});

describe("conflicting credentials", () => {
  it("two different keys in one request: 400 conflicting_credentials, and neither is tried", async () => {
    const a = await seedKey();
    const b = await seedKey();
    const res = await gateway("/demo/hello", { headers: { authorization: `Bearer ${a.key}`, "x-api-key": b.key } });
    await expectError(res, 400, "conflicting_credentials");
  });

  it.each([
    ["X-API-Key twice", (a: string, b: string) => [["x-api-key", a], ["x-api-key", b]]],
    ["Authorization twice", (a: string, b: string) => [["authorization", `Bearer ${a}`], ["authorization", `ApiKey ${b}`]]],
    ["X-API-Key as a list in one field", (a: string, b: string) => [["x-api-key", `${a}, ${b}`]]],
  ])("two different keys in a repeated header (%s): 400 conflicting_credentials, not a 401 for a malformed key", async (_name, fields) => {
    const a = await seedKey();
    const b = await seedKey();
    const headers = new Headers();
    for (const [name, value] of fields(a.key, b.key)) headers.append(name!, value!);
    await expectError(await gateway("/demo/hello", { headers }), 400, "conflicting_credentials");
  });

  it("the same key in a repeated header is that key", async () => {
    const { key } = await seedKey({ scopes: ["demo:read"] });
    for (const name of ["x-api-key", "authorization"]) {
      const headers = new Headers();
      const value = name === "authorization" ? `Bearer ${key}` : key;
      headers.append(name, value);
      headers.append(name, value);
      const res = await gateway("/demo/hello", { headers });
      expect(res.status, name).toBe(200);
      await res.body?.cancel();
    }
  });
});

describe("a malformed key costs no storage or limiter call", () => {
  /** A binding stand-in that records and refuses any use: if the hot path touches it, the test sees it. */
  function forbiddenBinding(name: string, touched: string[]): never {
    return new Proxy(
      {},
      {
        get(_target, property) {
          touched.push(`${name}.${String(property)}`);
          throw new Error(`${name} must not be used for a malformed key`);
        },
      },
    ) as never;
  }

  it.each([
    ["wrong prefix", "zz_" + "a".repeat(49)],
    ["bad checksum", "kg_" + "a".repeat(43) + "000000"],
    ["garbage", "not-a-key"],
  ])("%s is refused with no D1, KV or rate limiter access", async (_name, key) => {
    const touched: string[] = [];
    const isolatedEnv: Env = {
      ...env,
      DB: forbiddenBinding("DB", touched),
      KEY_CACHE: forbiddenBinding("KEY_CACHE", touched),
      RATE_LIMITER: forbiddenBinding("RATE_LIMITER", touched),
    };
    const ctx = createExecutionContext();
    const res = await handleRequest(new Request("http://gw.test/demo/hello", { headers: { "x-api-key": key } }), isolatedEnv, ctx);
    await waitOnExecutionContext(ctx);
    await expectError(res, 401, "malformed_key");
    expect(touched).toEqual([]);
  });

  it("the same stand-ins do catch a well-formed key's lookup (the probe works)", async () => {
    const touched: string[] = [];
    const isolatedEnv: Env = { ...env, DB: forbiddenBinding("DB", touched), KEY_CACHE: forbiddenBinding("KEY_CACHE", touched) };
    const ctx = createExecutionContext();
    const res = await handleRequest(new Request("http://gw.test/demo/hello", { headers: { "x-api-key": unknownKey() } }), isolatedEnv, ctx);
    await waitOnExecutionContext(ctx);
    // Both tiers refused to answer: the key store is unavailable (a 503, never a 500).
    expect(res.status).toBe(503);
    expect(touched).toEqual(["KEY_CACHE.get", "DB.prepare"]);
  });
});
