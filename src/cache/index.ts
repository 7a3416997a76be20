import type { Config } from "../config";
import type { Env } from "../env";
import { findKeyRecordByHash } from "../store/key_records";
import type { KeyCache, KeyRecord } from "./interface";
import { MemoryLru } from "./memory";

/** Isolate-wide: shared by every request this isolate serves. */
const memory = new MemoryLru<KeyRecord | null>(10_000);

/**
 * Bumped by every purge in this isolate. A lookup that started before a purge does not cache what
 * it read: the value may predate the change the purge is for.
 */
let purgeEpoch = 0;

/** KV refuses `expirationTtl` under 60 s, and `cacheTtl` under 30 s (we keep 60). */
const KV_MIN_TTL_SECONDS = 60;
/**
 * Positive entries live an hour: management changes purge them at once, so the TTL only bounds how
 * long a change made behind the API's back (direct SQL) can go unseen, for one D1 read per key per hour.
 */
const KV_POSITIVE_TTL_SECONDS = 3600;
const KV_CACHE_TTL_SECONDS = 60;

/** A negative entry in KV: the hash was looked up in D1 and no key has it. */
interface KvEntry {
  r: KeyRecord | null;
}

const kvKey = (hash: string) => `kr:${hash}`;

/** Counts hot-path D1 reads; exposed so tests and the benchmark can see what the caches save. */
export const lookupStats = { d1Reads: 0 };

/**
 * Tiered lookup: isolate memory (short TTL, bounded) -> KV (`cacheTtl`) -> D1.
 * A D1 answer, found or not, fills KV and memory; unknown hashes are cached negatively
 * so a flood of well-formed made-up keys costs at most one D1 read per key per TTL.
 */
export function keyCacheFor(env: Env, config: Config, ctx?: ExecutionContext): KeyCache {
  // Made for every request, so the helpers live at module level: each call makes only this object
  // and its two methods (wrangler's keep-names bundling also redefined every nested helper's name).
  return {
    async get(hash) {
      const cached = memory.get(hash);
      if (cached !== undefined) return cached;
      const epoch = purgeEpoch;

      const fromKv = await env.KEY_CACHE.get<KvEntry>(kvKey(hash), { type: "json", cacheTtl: KV_CACHE_TTL_SECONDS });
      if (fromKv !== null) {
        if (epoch === purgeEpoch) remember(config, hash, fromKv.r);
        return fromKv.r;
      }

      lookupStats.d1Reads++;
      const record = await findKeyRecordByHash(env.DB, hash);
      if (epoch === purgeEpoch) {
        remember(config, hash, record);
        // Without a request context (scripts, tests) background work is simply awaited.
        const filling = fillKv(env, config, hash, record);
        if (ctx) ctx.waitUntil(filling);
        else await filling;
      }
      return record;
    },

    async purge(hashes) {
      purgeEpoch++;
      for (const hash of hashes) memory.delete(hash);
      await Promise.all(hashes.map((hash) => env.KEY_CACHE.delete(kvKey(hash))));
    },
  };
}

function remember(config: Config, hash: string, record: KeyRecord | null): void {
  memory.set(hash, record, record ? config.memoryCacheTtlMs : config.negativeCacheTtlMs);
}

/**
 * Writes a D1 answer to KV from the background. For a found key the write is checked afterwards:
 * a revoke (in any isolate) that landed between our D1 read and our put has already purged KV,
 * so our put would bring the old record back for the whole TTL. Re-reading D1 after the put and
 * deleting on any difference closes that window: either the re-read sees the change, or the
 * change, and its purge, come after our put.
 */
async function fillKv(env: Env, config: Config, hash: string, record: KeyRecord | null): Promise<void> {
  const ttl = record ? KV_POSITIVE_TTL_SECONDS : Math.max(KV_MIN_TTL_SECONDS, Math.ceil(config.negativeCacheTtlMs / 1000));
  await env.KEY_CACHE.put(kvKey(hash), JSON.stringify({ r: record } satisfies KvEntry), { expirationTtl: ttl });
  // Negative entries are not re-checked: a key's hash is unknown until the key is created, so nothing
  // can have raced it, and re-checking would double the D1 cost of an unknown-key flood.
  if (record === null) return;
  const current = await findKeyRecordByHash(env.DB, hash);
  if (JSON.stringify(current) !== JSON.stringify(record)) {
    memory.delete(hash);
    await env.KEY_CACHE.delete(kvKey(hash));
  }
}

/** Test and benchmark hook: forget everything this isolate holds in memory. */
export function clearMemoryCache(): void {
  memory.clear();
}

/**
 * The key cache for a record the rate limiter says is stale (the key changed after it was cached):
 * drops the hash from this isolate's memory and KV at this location, then looks it up again, so the
 * read goes to D1 and refills both with the current record.
 */
export function freshKeyCacheFor(env: Env, config: Config, ctx?: ExecutionContext): KeyCache {
  const cache = keyCacheFor(env, config, ctx);
  return {
    async get(hash) {
      await cache.purge([hash]);
      return cache.get(hash);
    },
    purge: (hashes) => cache.purge(hashes),
  };
}
