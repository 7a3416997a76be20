/**
 * Remembers accepted request ids for as long as their signature could still be accepted, so a
 * captured request cannot be sent again. Shared storage (Redis `SET id 1 NX PXAT expiresAt`, a
 * database unique key, a Durable Object) is needed when several processes serve the origin; any
 * object with this one method fits.
 */
export interface ReplayCache {
  /** Records `requestId` until `expiresAt` (epoch ms) and answers whether it was already recorded (a replay). */
  seen(requestId: string, expiresAt: number): boolean | Promise<boolean>;
}

export interface MemoryReplayCacheOptions {
  /** Most ids held at once; default 100,000. Size it to requests per second x the tolerance window. */
  maxEntries?: number;
  /** Epoch milliseconds; default Date.now. */
  now?: () => number;
}

/**
 * A replay cache for a single-process origin. Ids are kept in arrival order, which is close to
 * expiry order (every id expires `tolerance` after its signature), so expired ones are dropped
 * from the front as new ones arrive. Past `maxEntries` live ids the oldest is forgotten early:
 * memory stays bounded, and only an id that old could then be replayed.
 */
export function memoryReplayCache(options: MemoryReplayCacheOptions = {}): ReplayCache & { readonly size: number } {
  const maxEntries = options.maxEntries ?? 100_000;
  // 0 forgot every id at once (no replay protection) and NaN never forgot one (unbounded memory), both silently.
  if (typeof maxEntries !== "number" || !Number.isSafeInteger(maxEntries) || maxEntries < 1) {
    throw new TypeError(`memoryReplayCache: maxEntries must be a whole number of 1 or more (got ${String(maxEntries)})`);
  }
  const now = options.now ?? Date.now;
  const expiries = new Map<string, number>();
  return {
    get size() {
      return expiries.size;
    },
    seen(requestId, expiresAt) {
      const at = now();
      for (const [id, expiry] of expiries) {
        if (expiry > at) break;
        expiries.delete(id);
      }
      const known = expiries.get(requestId);
      if (known !== undefined && known > at) return true;
      expiries.delete(requestId);
      expiries.set(requestId, expiresAt);
      if (expiries.size > maxEntries) expiries.delete(expiries.keys().next().value!);
      return false;
    },
  };
}
