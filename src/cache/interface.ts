import type { KeyRecord } from "../store/key_records";
import type { KeyIndex } from "./key_index";

/** Tiered key-record lookup by hash: memory -> KV -> D1, with negative caching of unknown hashes. */
export interface KeyCache {
  /** The record, or null when no key has this hash. */
  get(hash: string): Promise<KeyRecord | null>;
  /** Drops the hash from every cache tier this isolate can reach (memory and KV); never throws (a KV failure is logged). */
  purge(hashes: string[]): Promise<void>;
  /** Presented key -> hash for keys that resolved to a record (key_index.ts): a warm key skips SHA-256. */
  readonly index: KeyIndex;
}
