import { eq } from "drizzle-orm";
import { drizzle } from "drizzle-orm/d1";
import type { KeyRecord } from "../cache/interface";
import { apiKeys, orgs } from "./schema";

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
      updatedAt: apiKeys.updatedAt,
      allowedIps: apiKeys.allowedIps,
      disabledAt: apiKeys.disabledAt,
    })
    .from(apiKeys)
    .innerJoin(orgs, eq(orgs.id, apiKeys.orgId))
    .where(eq(apiKeys.hash, hash))
    .limit(1);
  return rows[0] ?? null;
}
