import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env, exports } from "cloudflare:workers";
import { eq } from "drizzle-orm";
import { drizzle } from "drizzle-orm/d1";
import { describe, expect, it } from "vitest";
import { handleRequest } from "../../src/app";
import { clearMemoryCache, keyCacheFor, lookupStats } from "../support/isolate";
import { loadConfig } from "../../src/config";
import type { Env } from "../../src/env";
import { apiKeys } from "../../src/store/schema";
import { frozenClock } from "../clock";
import { seedKey, unknownKey } from "./seed";

const call = (key: string) => exports.default.fetch("http://gw.test/demo/hello", { headers: { "x-api-key": key } });

/** Calls the worker with a D1 binding that fails on any use: the answer must come from a cache tier. */
async function callWithoutD1(key: string): Promise<Response> {
  const noD1: Env = {
    ...env,
    DB: new Proxy({}, { get: () => { throw new Error("D1 must not be read on a cache hit"); } }) as D1Database,
  };
  const ctx = createExecutionContext();
  const res = await handleRequest(new Request("http://gw.test/demo/hello", { headers: { "x-api-key": key } }), noD1, ctx);
  await waitOnExecutionContext(ctx);
  return res;
}

describe("tiered key lookup", () => {
  it("a warmed key keeps working with zero D1 reads", async () => {
    const { key } = await seedKey({ scopes: ["demo:read"] });
    const cold = lookupStats.d1Reads;
    expect((await call(key)).status).toBe(200);
    // The lookup and the KV fill's re-check (from waitUntil).
    expect(lookupStats.d1Reads).toBeGreaterThanOrEqual(cold + 1);
    const reads = lookupStats.d1Reads;
    for (let i = 0; i < 5; i++) expect((await call(key)).status).toBe(200);
    expect(lookupStats.d1Reads).toBe(reads);
    expect((await callWithoutD1(key)).status).toBe(200);
  });

  it("once the memory entry is gone, KV answers without D1", async () => {
    const { key } = await seedKey({ scopes: ["demo:read"] });
    const ctx = createExecutionContext();
    // The first lookup writes KV from waitUntil; wait for it before dropping memory.
    await handleRequest(new Request("http://gw.test/demo/hello", { headers: { "x-api-key": key } }), env, ctx);
    await waitOnExecutionContext(ctx);
    clearMemoryCache();
    expect((await callWithoutD1(key)).status).toBe(200);
  });

  it("an unknown well-formed key is negatively cached: the second try costs no D1 read", async () => {
    const key = unknownKey();
    const cold = lookupStats.d1Reads;
    const ctx = createExecutionContext();
    const first = await handleRequest(new Request("http://gw.test/demo/hello", { headers: { "x-api-key": key } }), env, ctx);
    await waitOnExecutionContext(ctx);
    expect(first.status).toBe(401);
    expect(lookupStats.d1Reads).toBe(cold + 1);
    const reads = lookupStats.d1Reads;
    expect(((await (await call(key)).json()) as { error: { code: string } }).error.code).toBe("invalid_key");
    expect(lookupStats.d1Reads).toBe(reads);
    // Only in this isolate's memory: unknown keys are never written to KV (SPEC §9).
    clearMemoryCache();
    const res = await callWithoutD1(key);
    expect(res.status).toBe(503);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe("key_store_unavailable");
  });

  it("an expired key is refused the moment it expires, even while its record is cached", async () => {
    // On a clock the test holds: its last millisecond and the moment itself, instead of sleeping past it.
    const clock = frozenClock();
    const expiresAt = Date.now() + 1_500;
    const { key } = await seedKey({ scopes: ["demo:read"], expiresAt });
    expect((await call(key)).status).toBe(200);
    clock.set(expiresAt - 1);
    expect((await callWithoutD1(key)).status).toBe(200);
    clock.set(expiresAt);
    const res = await callWithoutD1(key);
    expect(res.status).toBe(401);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe("key_expired");
  });

  it("a change in D1 is invisible while cached, and visible on the very next request after a purge", async () => {
    const { key, id, hash } = await seedKey({ scopes: ["demo:read"] });
    expect((await call(key)).status).toBe(200);
    await drizzle(env.DB).update(apiKeys).set({ revokedAt: Date.now() }).where(eq(apiKeys.id, id));
    // Still cached: this is exactly why every management change must purge.
    expect((await call(key)).status).toBe(200);
    await keyCacheFor(env, loadConfig(env)).purge([hash]);
    const res = await call(key);
    expect(res.status).toBe(401);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe("key_revoked");
  });
});
