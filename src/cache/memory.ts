/**
 * Bounded LRU with a per-entry TTL, living in isolate memory. A Map keeps insertion order,
 * so re-inserting on hit makes the first entry the least recently used one.
 * Written by hand: it is a few lines on top of Map, and the LRU packages either pull
 * Node-only code or add timers we cannot run in a Worker isolate.
 */
export class MemoryLru<V> {
  readonly #entries = new Map<string, { value: V; expiresAt: number }>();
  readonly #maxEntries: number;
  /** The most recently used key: a hit on it needs no reordering (a hot key is read on every request). */
  #newest: string | undefined;

  constructor(maxEntries: number) {
    this.#maxEntries = maxEntries;
  }

  /** `undefined` means "not cached"; a cached `null` (negative entry) is returned as `null`. */
  get(key: string, now = Date.now()): V | undefined {
    const entry = this.#entries.get(key);
    if (entry === undefined) return undefined;
    if (entry.expiresAt <= now) {
      this.delete(key);
      return undefined;
    }
    if (key !== this.#newest) {
      this.#entries.delete(key);
      this.#entries.set(key, entry);
      this.#newest = key;
    }
    return entry.value;
  }

  set(key: string, value: V, ttlMs: number, now = Date.now()): void {
    this.#entries.delete(key);
    this.#entries.set(key, { value, expiresAt: now + ttlMs });
    this.#newest = key;
    if (this.#entries.size > this.#maxEntries) {
      const oldest = this.#entries.keys().next().value;
      if (oldest !== undefined) this.#entries.delete(oldest);
    }
  }

  delete(key: string): void {
    this.#entries.delete(key);
    if (key === this.#newest) this.#newest = undefined;
  }

  get size(): number {
    return this.#entries.size;
  }

  clear(): void {
    this.#entries.clear();
    this.#newest = undefined;
  }
}
