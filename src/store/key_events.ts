import { and, eq, gt, inArray, isNull, lte, notExists, type SQL, sql } from "drizzle-orm";
import type { Db } from "./conditional";
import { statusIs } from "./keys";
import { apiKeys, auditEvents } from "./schema";

/** D1 binds at most 100 parameters per statement. */
const HASHES_PER_QUERY = 90;

/** Every key whose hash is in `hashes`, in one D1 round trip however many there are. */
export async function keysByHashes(db: Db, hashes: string[]) {
  if (hashes.length === 0) return [];
  const queries = [];
  for (let i = 0; i < hashes.length; i += HASHES_PER_QUERY) {
    queries.push(db.select().from(apiKeys).where(inArray(apiKeys.hash, hashes.slice(i, i + HASHES_PER_QUERY))));
  }
  const results = await db.batch(queries as [(typeof queries)[number], ...(typeof queries)[number][]]);
  return results.flat();
}

/**
 * The key (the row of the outer query) has no successor: it was never rotated. A rotated key in its grace
 * period is still active, but key.rotated already told its org when it stops working, so the daily
 * reminders (expiring, rotation due) leave it alone.
 */
export function notRotated(db: Db): SQL {
  return notExists(
    db
      .select({ one: sql`1` })
      .from(sql`${apiKeys} as successor`)
      .where(sql`successor.rotated_from = ${apiKeys.id}`),
  );
}

/** No key.leaked row yet for this key and this location: repeating a report records nothing more. */
export function leakNotYetRecorded(db: Db, keyId: string, url: string): SQL {
  return notExists(
    db
      .select({ one: sql`1` })
      .from(auditEvents)
      .where(and(eq(auditEvents.keyId, keyId), eq(auditEvents.action, "key.leaked"), sql`json_extract(${auditEvents.details}, '$.url') = ${url}`)),
  );
}

/** No key.expiring row yet for this key: each key is announced once. */
export function expiryNotYetAnnounced(db: Db, keyId: string): SQL {
  return notExists(
    db
      .select({ one: sql`1` })
      .from(auditEvents)
      .where(and(eq(auditEvents.keyId, keyId), eq(auditEvents.action, "key.expiring"))),
  );
}

/**
 * Active keys expiring in (now, until] that have not been announced and were not rotated (their
 * successor already exists, and key.rotated told the org when the old key stops working).
 */
export async function keysToAnnounceExpiring(db: Db, now: number, until: number, limit: number) {
  return db
    .select({ id: apiKeys.id, orgId: apiKeys.orgId, name: apiKeys.name, expiresAt: apiKeys.expiresAt })
    .from(apiKeys)
    .where(
      and(
        isNull(apiKeys.revokedAt),
        gt(apiKeys.expiresAt, now),
        lte(apiKeys.expiresAt, until),
        statusIs("active", now),
        notRotated(db),
        notExists(db.select({ one: sql`1` }).from(auditEvents).where(and(eq(auditEvents.keyId, apiKeys.id), eq(auditEvents.action, "key.expiring")))),
      ),
    )
    .orderBy(apiKeys.expiresAt)
    .limit(limit);
}
