import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { eq } from "drizzle-orm";
import { drizzle } from "drizzle-orm/d1";
import { beforeEach, describe, expect, it } from "vitest";
import { seedKey, unknownKey } from "../../test/gateway/seed";
import { loadConfig } from "../config";
import type { Env } from "../env";
import { hashKey } from "../keys/hash";
import { apiKeys } from "../store/schema";
import { clearMemoryCache, keyCacheFor, lookupStats } from "../../test/support/isolate";

const config = loadConfig(env);
const forbidden = <T>(): T => new Proxy({}, { get: () => { throw new Error("storage must not be touched"); } }) as T;
/** A cache over bindings that throw on use: it can only answer from isolate memory. */
const memoryOnly = () => keyCacheFor({ ...env, DB: forbidden<D1Database>(), KEY_CACHE: forbidden<KVNamespace>() } as Env, config);

beforeEach(() => clearMemoryCache());

describe("key cache tiers", () => {
  it("a D1 hit fills memory and KV", async () => {
    const { hash, id } = await seedKey();
    const ctx = createExecutionContext();
    expect((await keyCacheFor(env, config, ctx).get(hash))?.id).toBe(id);
    await waitOnExecutionContext(ctx);
    expect((await memoryOnly().get(hash))?.id).toBe(id);
    clearMemoryCache();
    const reads = lookupStats.d1Reads;
    expect((await keyCacheFor(env, config).get(hash))?.id).toBe(id);
    expect(lookupStats.d1Reads).toBe(reads);
  });

  it("an unknown hash is remembered as null in isolate memory only: no KV write (SPEC §9)", async () => {
    const hash = await hashKey(unknownKey());
    const ctx = createExecutionContext();
    expect(await keyCacheFor(env, config, ctx).get(hash)).toBeNull();
    await waitOnExecutionContext(ctx);
    expect(await memoryOnly().get(hash)).toBeNull();
    expect(await env.KEY_CACHE.get(`kr:${hash}`)).toBeNull();
    // Another isolate (here: this one with its memory gone) pays its own single D1 read.
    clearMemoryCache();
    const reads = lookupStats.d1Reads;
    expect(await keyCacheFor(env, config).get(hash)).toBeNull();
    expect(lookupStats.d1Reads).toBe(reads + 1);
  });

  it("purge drops the hash from memory and KV", async () => {
    const { hash } = await seedKey();
    const ctx = createExecutionContext();
    await keyCacheFor(env, config, ctx).get(hash);
    await waitOnExecutionContext(ctx);
    await keyCacheFor(env, config).purge([hash]);
    await expect(memoryOnly().get(hash)).rejects.toThrow();
    const reads = lookupStats.d1Reads;
    await keyCacheFor(env, config).get(hash);
    // The lookup, and (no request context: awaited) the KV fill's re-check.
    expect(lookupStats.d1Reads).toBe(reads + 2);
  });
});

describe("key cache races", () => {
  it("a KV fill that lands after a revoke does not bring the old record back", async () => {
    const { hash, id } = await seedKey();
    const ctx = createExecutionContext();
    // The lookup reads D1 (active) and schedules its KV write...
    expect((await keyCacheFor(env, config, ctx).get(hash))?.revokedAt).toBeNull();
    // ...a revoke happens elsewhere before that write lands (its purge already ran, and missed it)...
    await drizzle(env.DB).update(apiKeys).set({ revokedAt: Date.now() }).where(eq(apiKeys.id, id));
    await waitOnExecutionContext(ctx);
    // ...and still no tier holds the stale active record.
    await expect(memoryOnly().get(hash)).rejects.toThrow();
    const fresh = await keyCacheFor(env, config).get(hash);
    expect(fresh?.revokedAt).not.toBeNull();
  });

  it("a lookup in flight during a purge does not cache what it read", async () => {
    const { hash } = await seedKey();
    const cache = keyCacheFor(env, config);
    const lookup = cache.get(hash);
    const purge = cache.purge([hash]);
    await Promise.all([lookup, purge]);
    await expect(memoryOnly().get(hash)).rejects.toThrow();
  });
});

describe("a purge whose KV delete fails", () => {
  const kvDeletesFailing = (): KVNamespace =>
    new Proxy(env.KEY_CACHE, {
      get(target, prop) {
        if (prop === "delete") return () => Promise.reject(new Error("KV delete failed (injected fault)"));
        const value = Reflect.get(target, prop) as unknown;
        return typeof value === "function" ? value.bind(target) : value;
      },
    });

  it("still makes the change immediate in this isolate: the old KV entry is not read back", async () => {
    const { hash, id } = await seedKey();
    const ctx = createExecutionContext();
    await keyCacheFor(env, config, ctx).get(hash); // memory and KV hold the active record
    await waitOnExecutionContext(ctx);
    await drizzle(env.DB).update(apiKeys).set({ revokedAt: Date.now() }).where(eq(apiKeys.id, id));
    const broken = { ...env, KEY_CACHE: kvDeletesFailing() } as Env;
    const original = console.error;
    console.error = () => {};
    try {
      await keyCacheFor(broken, config).purge([hash]);
    } finally {
      console.error = original;
    }
    expect(await env.KEY_CACHE.get(`kr:${hash}`)).not.toBeNull(); // the delete really failed
    const next = createExecutionContext();
    expect((await keyCacheFor(broken, config, next).get(hash))?.revokedAt).not.toBeNull();
    await waitOnExecutionContext(next);
    // The lookup went to D1 and put the current record back into KV, so other readers see it too.
    expect(((await env.KEY_CACHE.get<{ r: { revokedAt: number | null } }>(`kr:${hash}`, "json"))?.r.revokedAt)).not.toBeNull();
  });
});
