import { eq, sql } from "drizzle-orm";
import { drizzle } from "drizzle-orm/d1";
import { apiKeys, orgs, type StoredKeyLimits } from "./schema";

/**
 * Everything the hot path needs to decide on a request: read from D1 by `findKeyRecordByHash`,
 * cached in isolate memory and KV (src/cache/, keyed by the SHA-256 of the key; it never holds the
 * key) so a warmed key costs no D1 read, and verified by src/auth/verify.ts. It lives beside the
 * query that builds it, at the bottom of the layers, because the cache below auth holds it too.
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
  /**
   * When the key row or its org last changed, whichever is later (absent in records cached before
   * this field existed): the version the limiter compares with the changes it was told of, a tier
   * change included.
   */
  updatedAt?: number;
  /** The rotation chain's first key, whose limiter counters this key shares (absent or null: its own). */
  limiterId?: string | null;
  // Optional: records cached before these fields existed read as "anywhere" and "enabled".
  /** Normalised addresses/CIDR ranges the key may be used from; null or empty: anywhere. */
  allowedIps?: string[] | null;
  /** Set while the key is suspended (`enabled: false`). */
  disabledAt?: number | null;
}

/** The hot path's only D1 query: one indexed read by hash, joined with the org for its tier. */
export async function findKeyRecordByHash(db: D1Database, hash: string): Promise<KeyRecord | null> {
  const rows = await drizzle(db)
    .select({
      id: apiKeys.id,
      orgId: apiKeys.orgId,
      tier: orgs.tier,
      scopes: apiKeys.scopes,
      expiresAt: apiKeys.expiresAt,
      revokedAt: apiKeys.revokedAt,
      rateLimit: apiKeys.rateLimit,
      limiterId: apiKeys.limiterId,
      updatedAt: sql<number>`max(${apiKeys.updatedAt}, ${orgs.updatedAt})`,
      allowedIps: apiKeys.allowedIps,
      disabledAt: apiKeys.disabledAt,
    })
    .from(apiKeys)
    .innerJoin(orgs, eq(orgs.id, apiKeys.orgId))
    .where(eq(apiKeys.hash, hash))
    .limit(1);
  return rows[0] ?? null;
}
