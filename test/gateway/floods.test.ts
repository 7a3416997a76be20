// Storage operations per request, counted on the real bindings: unknown-key floods (issue 18.7),
// a warm key's steady state (19.6) and a warm key's hash (19.7).
import { env } from "cloudflare:workers";
import { eq } from "drizzle-orm";
import { drizzle } from "drizzle-orm/d1";
import { beforeEach, describe, expect, it, vi } from "vitest";
import { clearMemoryCache, indexedHash } from "../support/isolate";
import { apiKeys } from "../../src/store/schema";
import { seedKey, unknownKey } from "./seed";
import { callWith, countingEnv } from "./storage";

const get = (key: string) => ({ headers: { "x-api-key": key } });
const code = async (res: Response) => ((await res.json()) as { error: { code: string } }).error.code;

beforeEach(() => clearMemoryCache());

describe("unknown-key floods (issue 18.7)", () => {
  it("distinct made-up keys, each sent 3 times: 0 KV writes, 1 D1 read and 1 KV read per distinct key", async () => {
    // A negative TTL no run outlasts, however slow the machine: the count must not depend on timing.
    const { env: counted, counts } = countingEnv({ NEGATIVE_CACHE_TTL_MS: "600000" });
    const keys = Array.from({ length: 40 }, () => unknownKey());
    for (let round = 0; round < 3; round++) {
      for (const key of keys) {
        const res = await callWith(counted, "/demo/x", get(key));
        expect(res.status).toBe(401);
        expect(await code(res)).toBe("invalid_key");
      }
    }
    console.log(`unknown-key flood: ${keys.length * 3} requests, ${keys.length} distinct keys: D1 ${counts.d1}, KV reads ${counts.kvGet}, KV writes ${counts.kvPut}`);
    expect(counts.kvPut).toBe(0);
    expect(counts.kvDelete).toBe(0);
    expect(counts.d1).toBe(keys.length);
    expect(counts.kvGet).toBe(keys.length);
  });

  it("a malformed-key flood costs no storage operation of any kind", async () => {
    const { env: counted, counts } = countingEnv();
    const good = unknownKey();
    const malformed = [good.slice(0, -1) + (good.endsWith("A") ? "B" : "A"), "kg_short", good + "x", "xx_" + good.slice(3), "", "kg_" + "!".repeat(49)];
    for (const key of malformed) {
      const res = await callWith(counted, "/demo/x", key ? get(key) : undefined);
      expect(res.status).toBe(401);
    }
    expect(counts).toEqual({ d1: 0, kvGet: 0, kvPut: 0, kvDelete: 0 });
  });
});

describe("a warm key (issue 19.6, 19.7)", () => {
  it("steady state within the memory TTL: 0 KV and 0 D1 reads per 50 requests", async () => {
    const { key } = await seedKey({ tier: "enterprise", scopes: ["demo:read"] });
    const { env: counted, counts } = countingEnv({ MEMORY_CACHE_TTL_MS: "600000" });
    expect((await callWith(counted, "/demo/x", get(key))).status).toBe(200);
    const warm = { ...counts };
    for (let i = 0; i < 50; i++) expect((await callWith(counted, "/demo/x", get(key))).status).toBe(200);
    expect(counts).toEqual(warm);
  });

  // The clock is moved by hand (only Date is faked): no assertion here depends on how fast the machine is.
  it("past MEMORY_CACHE_TTL_MS the record is served while it refreshes behind the response, and a revoke shows on the next request", async () => {
    const ttl = 5_000;
    const { key, id, hash } = await seedKey({ tier: "enterprise", scopes: ["demo:read"] });
    const { env: counted, counts } = countingEnv({ MEMORY_CACHE_TTL_MS: String(ttl) });
    vi.useFakeTimers({ toFake: ["Date"], now: Date.now() });
    try {
      expect((await callWith(counted, "/demo/x", get(key))).status).toBe(200);
      // Revoked behind the gateway's back, and KV cleared as a purge elsewhere would: only this isolate's memory is stale.
      await drizzle(env.DB).update(apiKeys).set({ revokedAt: Date.now() }).where(eq(apiKeys.id, id));
      await env.KEY_CACHE.delete(`kr:${hash}`);
      vi.setSystemTime(Date.now() + ttl - 1);
      const fresh = { ...counts };
      expect((await callWith(counted, "/demo/x", get(key))).status).toBe(200);
      expect(counts).toEqual(fresh);
      vi.setSystemTime(Date.now() + 2);
      const before = { ...counts };
      // Stale: still served (the refresh runs in waitUntil, which callWith awaits)...
      expect((await callWith(counted, "/demo/x", get(key))).status).toBe(200);
      expect(counts.kvGet).toBe(before.kvGet + 1);
      expect(counts.d1).toBeGreaterThan(before.d1);
      // ...and the refreshed record is what the next request sees.
      const res = await callWith(counted, "/demo/x", get(key));
      expect(res.status).toBe(401);
      expect(await code(res)).toBe("key_revoked");
    } finally {
      vi.useRealTimers();
    }
  });

  it("past twice the TTL (the hard bound) the record is dropped: the request waits for a fresh lookup", async () => {
    const ttl = 5_000;
    const { key, id, hash } = await seedKey({ tier: "enterprise", scopes: ["demo:read"] });
    const { env: counted } = countingEnv({ MEMORY_CACHE_TTL_MS: String(ttl) });
    vi.useFakeTimers({ toFake: ["Date"], now: Date.now() });
    try {
      expect((await callWith(counted, "/demo/x", get(key))).status).toBe(200);
      await drizzle(env.DB).update(apiKeys).set({ revokedAt: Date.now() }).where(eq(apiKeys.id, id));
      await env.KEY_CACHE.delete(`kr:${hash}`);
      vi.setSystemTime(Date.now() + 2 * ttl + 1);
      const res = await callWith(counted, "/demo/x", get(key));
      expect(res.status).toBe(401);
      expect(await code(res)).toBe("key_revoked");
    } finally {
      vi.useRealTimers();
    }
  });

  it("a valid key's hash is indexed in isolate memory (no SHA-256 on its next request); an unknown key's never is", async () => {
    const { key, hash } = await seedKey({ tier: "enterprise", scopes: ["demo:read"] });
    const stranger = unknownKey();
    expect(indexedHash(key)).toBeUndefined();
    const { env: counted } = countingEnv();
    expect((await callWith(counted, "/demo/x", get(key))).status).toBe(200);
    expect((await callWith(counted, "/demo/x", get(stranger))).status).toBe(401);
    expect(indexedHash(key)).toBe(hash);
    expect(indexedHash(stranger)).toBeUndefined();
  });
});
