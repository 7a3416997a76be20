import type { Config } from "../config";
import type { Env } from "../env";
import { KeygateError } from "../errors";
import { logThrottled } from "../log";
import { findKeyRecordByHash, type KeyRecord } from "../store/key_records";
import type { KeyCache } from "./interface";
import { KeyIndex } from "./key_index";
import { MemoryLru } from "./memory";

/** A known key's record in isolate memory. Served fresh until `freshUntil`, then stale while it refreshes. */
interface Held {
  record: KeyRecord;
  freshUntil: number;
  /** A background refresh is running: one per record per isolate at a time. */
  refreshing: boolean;
}

/**
 * Issue 19.6: how far past MEMORY_CACHE_TTL_MS a record may still be served while its background
 * refresh runs, as a multiple of the TTL. At 2x a record is dropped at twice the TTL whatever happens.
 */
export const HARD_BOUND_FACTOR = 2;
/** After a refresh that failed (KV and D1 both down), the next attempt waits this long. */
const REFRESH_RETRY_MS = 1_000;

/**
 * Positive entries live an hour: management changes purge them at once, so the TTL only bounds how
 * long a change made behind the API's back (direct SQL) can go unseen, for one D1 read per key per hour.
 */
const KV_POSITIVE_TTL_SECONDS = 3600;
/** KV refuses `cacheTtl` under 30 s (we keep 60). */
const KV_CACHE_TTL_SECONDS = 60;

/** A KV entry. Only found keys are written; `r: null` may still be read from entries written before 18.7. */
interface KvEntry {
  r: KeyRecord | null;
}

const kvKey = (hash: string) => `kr:${hash}`;

/**
 * Counts the storage operations of hot-path lookups (D1 reads include fillKv's re-check). Injected
 * by tests and the benchmark (test/support/isolate.ts, bench/workers/gateway.ts); null in production.
 */
export interface LookupProbe {
  d1Reads: number;
  kvReads: number;
  kvWrites: number;
}

/**
 * What the key cache keeps in isolate memory: found records, unknown hashes, the presented-key
 * index (key_index.ts) and the purge epoch. One per isolate (src/isolate.ts), shared by every
 * request whatever env object it carries, so a purge from the management API reaches every reader.
 */
export class KeyMemory {
  /** Known keys' records by hash. */
  readonly records = new MemoryLru<Held>(10_000);
  /**
   * Unknown hashes, apart from known ones: a flood of made-up keys (the checksum is public, anyone can
   * mint them) then evicts only other made-up keys, never a real key's record.
   */
  readonly unknown = new MemoryLru<true>(10_000);
  readonly index = new KeyIndex();
  /**
   * Hashes whose KV entry a purge could not delete: KV may still hold the record from before the
   * change, so lookups here skip KV for them (D1 answers and refills KV) until a verified fill.
   */
  readonly kvStale = new MemoryLru<true>(10_000);
  /**
   * Bumped by every purge in this isolate. A lookup that started before a purge does not cache what
   * it read: the value may predate the change the purge is for.
   */
  purgeEpoch = 0;
  probe: LookupProbe | null = null;

  /** Forget every record, unknown hash and indexed key (the purge epoch and probe stay). */
  clear(): void {
    this.records.clear();
    this.unknown.clear();
    this.index.clear();
    this.kvStale.clear();
  }
}

/**
 * Tiered lookup: isolate memory (bounded, stale-while-revalidate) -> KV (`cacheTtl`) -> D1.
 * A found key fills memory and KV; an unknown one only isolate memory, for NEGATIVE_CACHE_TTL_MS
 * (SPEC §9: no KV writes for unknown keys, at most one D1 read per distinct key per isolate per TTL).
 * A failing KV is skipped (D1 answers); a failing D1 is 503 `key_store_unavailable` for keys no
 * tier holds, while keys in memory or KV keep working.
 */
export function keyCacheFor(memory: KeyMemory, env: Env, config: Config, ctx?: ExecutionContext): KeyCache {
  // Made for every request, so the helpers live at module level: each call makes only this object
  // and its two methods (wrangler's keep-names bundling also redefined every nested helper's name).
  return {
    index: memory.index,
    async get(hash) {
      const now = Date.now();
      const held = memory.records.get(hash, now);
      if (held !== undefined) {
        if (now < held.freshUntil) return held.record;
        // Stale: serve it, refresh it behind the response. Without a request context (scripts,
        // tests) there is no "behind", so it is an ordinary miss.
        if (ctx) {
          if (!held.refreshing) {
            held.refreshing = true;
            ctx.waitUntil(refresh(memory, env, config, hash, held));
          }
          return held.record;
        }
      }
      if (memory.unknown.get(hash, now)) return null;
      return load(memory, env, config, hash, ctx);
    },

    purge: (hashes) => purgeHashes(memory, env, hashes, KV_DELETE_RETRY_MS),
  };
}

/** Pauses before the second and third try of a KV delete: a failed delete is usually a blip. */
const KV_DELETE_RETRY_MS = [50, 250];

/** Memory at once (and the purge epoch, see KeyMemory), then KV; never throws (see deleteFromKv). */
async function purgeHashes(memory: KeyMemory, env: Env, hashes: string[], retryDelaysMs: readonly number[]): Promise<void> {
  memory.purgeEpoch++;
  for (const hash of hashes) {
    memory.records.delete(hash);
    memory.unknown.delete(hash);
  }
  await Promise.all(hashes.map((hash) => deleteFromKv(memory, env, hash, retryDelaysMs)));
}

/**
 * A purge runs after the change it is for has committed, so it never throws: answering 500 would hide
 * the committed change from the caller, and skip the limiter notice and webhooks that follow it. A KV
 * delete is tried three times; one that still fails is logged and the entry is distrusted in this
 * isolate (KeyMemory.kvStale: its lookups read D1, whose fill then overwrites the entry). Until that
 * happens or the entry expires (KV_POSITIVE_TTL_SECONDS), other isolates rely on the limiter notice
 * (Durable Object backend), a repeated revoke (which purges again) or a KV read failing over to D1.
 */
async function deleteFromKv(memory: KeyMemory, env: Env, hash: string, retryDelaysMs: readonly number[]): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    try {
      await env.KEY_CACHE.delete(kvKey(hash));
      return;
    } catch (err) {
      if (attempt >= retryDelaysMs.length) {
        // Here at least the change is immediate: this isolate stops reading that entry.
        memory.kvStale.set(hash, true, KV_POSITIVE_TTL_SECONDS * 1000);
        logThrottled("kv-purge", "purging a changed key from KV failed; the change is saved, other locations may serve the old record until the limiter or a repeat tells them", err);
        return;
      }
      await new Promise((resolve) => setTimeout(resolve, retryDelaysMs[attempt]));
    }
  }
}

/** KV, then D1. Throws `key_store_unavailable` only when D1 fails (KV failing just falls through). */
async function load(memory: KeyMemory, env: Env, config: Config, hash: string, ctx: ExecutionContext | undefined): Promise<KeyRecord | null> {
  const epoch = memory.purgeEpoch;
  const fromKv = memory.kvStale.get(hash) ? null : await readKv(memory, env, hash);
  if (fromKv !== null) {
    if (epoch === memory.purgeEpoch) remember(memory, config, hash, fromKv.r);
    return fromKv.r;
  }

  return loadFromD1(memory, env, config, hash, ctx, epoch);
}

/** D1, then memory and KV filled with what it said (unless a purge came in between, see KeyMemory.purgeEpoch). */
async function loadFromD1(memory: KeyMemory, env: Env, config: Config, hash: string, ctx: ExecutionContext | undefined, epoch: number): Promise<KeyRecord | null> {
  const record = await readD1(memory.probe, env, hash);
  if (epoch === memory.purgeEpoch) {
    remember(memory, config, hash, record);
    if (record) {
      // Without a request context (scripts, tests) background work is simply awaited.
      const filling = fillKv(memory, env, hash, record);
      if (ctx) ctx.waitUntil(filling);
      else await filling;
    }
  }
  return record;
}

/** The stale-while-revalidate refresh of a held record; never throws (the held record serves on). */
async function refresh(memory: KeyMemory, env: Env, config: Config, hash: string, held: Held): Promise<void> {
  try {
    await load(memory, env, config, hash, undefined);
  } catch {
    // Already logged by readD1. Keep serving until the hard bound; retry a little later.
    held.freshUntil = Date.now() + REFRESH_RETRY_MS;
  } finally {
    held.refreshing = false;
  }
}

async function readKv(memory: KeyMemory, env: Env, hash: string): Promise<KvEntry | null> {
  if (memory.probe) memory.probe.kvReads++;
  try {
    return await env.KEY_CACHE.get<KvEntry>(kvKey(hash), { type: "json", cacheTtl: KV_CACHE_TTL_SECONDS });
  } catch (err) {
    logThrottled("kv-read", "KV read failed; looking the key up in D1", err);
    return null;
  }
}

/** `probe` counts hot-path lookups only (null for the management API's authoritative reads). */
async function readD1(probe: LookupProbe | null, env: Env, hash: string): Promise<KeyRecord | null> {
  if (probe) probe.d1Reads++;
  try {
    return await findKeyRecordByHash(env.DB, hash);
  } catch (err) {
    logThrottled("d1-read", "D1 read failed; keys in no cache tier are refused with 503 key_store_unavailable", err);
    throw new KeygateError("key_store_unavailable", "the key store is unavailable; try again shortly", { headers: { "Retry-After": "1" } });
  }
}

function remember(memory: KeyMemory, config: Config, hash: string, record: KeyRecord | null): void {
  const now = Date.now();
  if (record) {
    memory.unknown.delete(hash);
    memory.records.set(hash, { record, freshUntil: now + config.memoryCacheTtlMs, refreshing: false }, config.memoryCacheTtlMs * HARD_BOUND_FACTOR, now);
  } else {
    memory.records.delete(hash);
    memory.unknown.set(hash, true, config.negativeCacheTtlMs, now);
  }
}

/**
 * Writes a found key's D1 record to KV from the background, then checks it: a revoke (in any
 * isolate) that landed between our D1 read and our put has already purged KV, so our put would
 * bring the old record back for the whole TTL. Re-reading D1 after the put and deleting on any
 * difference closes that window: either the re-read sees the change, or the change, and its purge,
 * come after our put. A failing KV or D1 here only costs a later lookup a KV miss.
 */
async function fillKv(memory: KeyMemory, env: Env, hash: string, record: KeyRecord): Promise<void> {
  try {
    if (memory.probe) memory.probe.kvWrites++;
    await env.KEY_CACHE.put(kvKey(hash), JSON.stringify({ r: record } satisfies KvEntry), { expirationTtl: KV_POSITIVE_TTL_SECONDS });
  } catch (err) {
    logThrottled("kv-fill", "filling KV with a key record failed", err);
    return;
  }
  let current: KeyRecord | null | undefined;
  try {
    if (memory.probe) memory.probe.d1Reads++;
    current = await findKeyRecordByHash(env.DB, hash);
  } catch (err) {
    // Unverified: the entry we just wrote may predate a revoke, so it must not stay.
    logThrottled("kv-fill", "re-checking a KV fill in D1 failed; dropping the entry", err);
    current = undefined;
  }
  if (current === undefined || JSON.stringify(current) !== JSON.stringify(record)) {
    memory.records.delete(hash);
    await env.KEY_CACHE.delete(kvKey(hash)).catch((err: unknown) => {
      memory.kvStale.set(hash, true, KV_POSITIVE_TTL_SECONDS * 1000);
      logThrottled("kv-fill", "deleting an unverified KV entry failed", err);
    });
  } else {
    // KV now holds the current record: it can be trusted again here.
    memory.kvStale.delete(hash);
  }
}

/**
 * The key cache for a record the rate limiter says is stale (the key changed after it was cached):
 * drops the hash from this isolate's memory and KV at this location, then reads it from D1 (never KV,
 * which may still hold the old record) and refills both with the current record.
 */
export function freshKeyCacheFor(memory: KeyMemory, env: Env, config: Config, ctx?: ExecutionContext): KeyCache {
  return {
    async get(hash) {
      // On the hot path: one KV try, no retry pauses (the D1 read that follows is what this request needs).
      await purgeHashes(memory, env, [hash], []);
      // Straight to D1, not KV: KV may still hold the old record (its delete failed, or has not landed here).
      return loadFromD1(memory, env, config, hash, ctx, memory.purgeEpoch);
    },
    purge: (hashes) => purgeHashes(memory, env, hashes, KV_DELETE_RETRY_MS),
    index: memory.index,
  };
}

/**
 * Lookups straight from D1, bypassing memory and KV (and filling neither), for org keys calling the
 * management API: a key revoked, suspended or narrowed at another location must not keep managing
 * keys (minting a fresh admin key, say) for the cache bound. The management API reads D1 for its
 * work anyway, so this is one more indexed read per call. D1 failing: 503 `key_store_unavailable`.
 */
export function authoritativeKeyCacheFor(memory: KeyMemory, env: Env): KeyCache {
  return {
    index: memory.index,
    get: (hash) => readD1(null, env, hash),
    purge: (hashes) => purgeHashes(memory, env, hashes, KV_DELETE_RETRY_MS),
  };
}
