import type { KeyIndex } from "./key_index";
import type { StoredKeyLimits } from "../store/schema";

/**
 * Everything the hot path needs to decide on a request, cached in isolate memory and KV
 * so a warmed key costs no D1 read. Keyed by the SHA-256 of the key; never holds the key.
 */
export interface KeyRecord {
  id: string;
  orgId: string;
  /** The org's tier at the time the record was cached; changing an org's tier purges its keys. */
  tier: string;
  scopes: string[];
  expiresAt: number | null;
  revokedAt: number | null;
  rateLimit: StoredKeyLimits | null;
  /** When the key row last changed (absent in records cached before this field existed). */
  updatedAt?: number;
  /** The rotation chain's first key, whose limiter counters this key shares (absent or null: its own). */
  limiterId?: string | null;
  // Optional: records cached before these fields existed read as "anywhere" and "enabled".
  /** Normalised addresses/CIDR ranges the key may be used from; null or empty: anywhere. */
  allowedIps?: string[] | null;
  /** Set while the key is suspended (`enabled: false`). */
  disabledAt?: number | null;
}

/** Tiered key-record lookup by hash: memory -> KV -> D1, with negative caching of unknown hashes. */
export interface KeyCache {
  /** The record, or null when no key has this hash. */
  get(hash: string): Promise<KeyRecord | null>;
  /** Drops the hash from every cache tier this isolate can reach (memory and KV). */
  purge(hashes: string[]): Promise<void>;
  /** Presented key -> hash for keys that resolved to a record (key_index.ts): a warm key skips SHA-256. */
  readonly index: KeyIndex;
}
