import { MemoryLru } from "./memory";

/**
 * Issue 19.7: a warm key skips its SHA-256. Isolate memory maps the presented key to its hash,
 * which is all SHA-256 would compute, so the index can never answer anything the hash would not:
 * revocation, purges and TTLs all still act on the hash-keyed record cache behind it.
 *
 * Trade-off (README "Security"): the full key strings of recently used *valid* keys stay in isolate
 * memory (never in KV, D1, logs or responses) for up to the hard bound. Unknown keys are never
 * indexed, so a flood of made-up keys cannot grow it or evict real ones. Bounded like the record cache.
 * Held by the isolate's KeyMemory (cache/index.ts, src/isolate.ts).
 */
export class KeyIndex {
  readonly #hashes = new MemoryLru<string>(10_000);

  hashOf(key: string, now?: number): string | undefined {
    return this.#hashes.get(key, now);
  }

  /** Call only for a key whose hash resolved to a record. */
  add(key: string, hash: string, ttlMs: number, now?: number): void {
    this.#hashes.set(key, hash, ttlMs, now);
  }

  clear(): void {
    this.#hashes.clear();
  }
}
