import type { Config } from "../config";
import type { Env } from "../env";
import { findKeyRecordByHash } from "../store/key_records";
import type { KeyCache, KeyRecord } from "./interface";
import { MemoryLru } from "./memory";

/** Isolate-wide: shared by every request this isolate serves. */
const memory = new MemoryLru<KeyRecord | null>(10_000);

/** KV refuses `expirationTtl` under 60 s, and `cacheTtl` under 30 s (we keep 60). */
const KV_MIN_TTL_SECONDS = 60;
const KV_POSITIVE_TTL_SECONDS = 24 * 3600;
const KV_CACHE_TTL_SECONDS = 60;

/** A negative entry in KV: the hash was looked up in D1 and no key has it. */
interface KvEntry {
  r: KeyRecord | null;
}

const kvKey = (hash: string) => `kr:${hash}`;

/** Counts D1 reads; exposed so tests and the benchmark can see what the negative cache saves. */
export const lookupStats = { d1Reads: 0 };

/**
 * Tiered lookup: isolate memory (short TTL, bounded) -> KV (`cacheTtl`) -> D1.
 * A D1 answer, found or not, fills KV and memory; unknown hashes are cached negatively
 * so a flood of well-formed made-up keys costs at most one D1 read per key per TTL.
 */
export function keyCacheFor(env: Env, config: Config, ctx?: ExecutionContext): KeyCache {
  const background = (work: Promise<unknown>) => (ctx ? ctx.waitUntil(work) : work);

  return {
    async get(hash) {
      const cached = memory.get(hash);
      if (cached !== undefined) return cached;

      const fromKv = await env.KEY_CACHE.get<KvEntry>(kvKey(hash), { type: "json", cacheTtl: KV_CACHE_TTL_SECONDS });
      if (fromKv !== null) {
        memory.set(hash, fromKv.r, fromKv.r ? config.memoryCacheTtlMs : config.negativeCacheTtlMs);
        return fromKv.r;
      }

      lookupStats.d1Reads++;
      const record = await findKeyRecordByHash(env.DB, hash);
      memory.set(hash, record, record ? config.memoryCacheTtlMs : config.negativeCacheTtlMs);
      const ttl = record ? KV_POSITIVE_TTL_SECONDS : Math.max(KV_MIN_TTL_SECONDS, Math.ceil(config.negativeCacheTtlMs / 1000));
      await background(env.KEY_CACHE.put(kvKey(hash), JSON.stringify({ r: record } satisfies KvEntry), { expirationTtl: ttl }));
      return record;
    },

    async purge(hashes) {
      for (const hash of hashes) memory.delete(hash);
      await Promise.all(hashes.map((hash) => env.KEY_CACHE.delete(kvKey(hash))));
    },
  };
}

/** Test and benchmark hook: forget everything this isolate holds in memory. */
export function clearMemoryCache(): void {
  memory.clear();
}
