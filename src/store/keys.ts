import { and, asc, count, desc, eq, exists, gt, inArray, isNotNull, isNull, lt, lte, ne, notExists, or, type SQL, sql } from "drizzle-orm";
import { containsText, type Db, insertWhere, offsetOf, type Page } from "./conditional";
import { apiKeys, orgs } from "./schema";

export type KeyRow = typeof apiKeys.$inferSelect;
export type KeyStatus = "active" | "disabled" | "expired" | "revoked";
export const KEY_STATUSES = ["active", "disabled", "expired", "revoked"] as const satisfies readonly KeyStatus[];
export type KeySort = "created_at" | "last_used_at" | "expires_at" | "name";
export type KeyChanges = Partial<Pick<KeyRow, "name" | "scopes" | "rateLimit" | "meta" | "allowedIps" | "disabledAt">>;

export interface KeyFilters {
  statuses?: KeyStatus[];
  /** Case-insensitive substring of the name. */
  name?: string;
  /** Keys never used, or last used before this time (epoch ms). */
  unusedSince?: number;
  /** Keys created at or before this time (epoch ms): `older_than`. */
  createdBefore?: number;
}

/**
 * Status is computed, never stored: it changes by itself when `expires_at` passes. Revoked and
 * expired are final, so they win over disabled (a suspended key that expires is simply expired).
 */
export function keyStatus(row: Pick<KeyRow, "revokedAt" | "expiresAt" | "disabledAt">, now: number): KeyStatus {
  if (row.revokedAt !== null) return "revoked";
  if (row.expiresAt !== null && row.expiresAt <= now) return "expired";
  if (row.disabledAt !== null) return "disabled";
  return "active";
}

/** The same rule as `keyStatus`, as SQL. */
export function statusIs(status: KeyStatus, now: number): SQL {
  switch (status) {
    case "revoked":
      return isNotNull(apiKeys.revokedAt);
    case "expired":
      return and(isNull(apiKeys.revokedAt), isNotNull(apiKeys.expiresAt), lte(apiKeys.expiresAt, now))!;
    case "disabled":
      return and(unexpired(now), isNotNull(apiKeys.disabledAt))!;
    case "active":
      return and(unexpired(now), isNull(apiKeys.disabledAt))!;
  }
}

/** Neither revoked nor expired: active or disabled, i.e. a key that can still be made to work. */
function unexpired(now: number): SQL {
  return and(isNull(apiKeys.revokedAt), or(isNull(apiKeys.expiresAt), gt(apiKeys.expiresAt, now)))!;
}

/**
 * True while the org holds fewer active keys than its `max_active_keys`; `excluding` leaves one
 * key out of the count (the key being rotated, whose remaining grace period is not a new key).
 * Disabled keys count: they can be enabled again at any time, so disabling one must not make room.
 */
export function underKeyLimit(db: Db, orgId: string, now: number, excluding?: string): SQL {
  const active = db
    .select({ n: count() })
    .from(apiKeys)
    .where(and(eq(apiKeys.orgId, orgId), unexpired(now), excluding ? ne(apiKeys.id, excluding) : undefined));
  const limit = db.select({ max: orgs.maxActiveKeys }).from(orgs).where(eq(orgs.id, orgId));
  return sql`(${active}) < (${limit})`;
}

/**
 * The key is active (or disabled: rotating a suspended key is how an incident ends), unchanged since
 * it was read at `version`, and nothing has been rotated from it yet.
 */
export function rotatable(db: Db, orgId: string, keyId: string, now: number, version: number): SQL {
  const current = db
    .select({ one: sql`1` })
    .from(apiKeys)
    .where(and(eq(apiKeys.id, keyId), eq(apiKeys.version, version), unexpired(now)));
  const successor = db.select({ one: sql`1` }).from(apiKeys).where(and(eq(apiKeys.orgId, orgId), eq(apiKeys.rotatedFrom, keyId)));
  return and(exists(current), notExists(successor))!;
}

/**
 * Optimistic concurrency (see `apiKeys.version`): the row still is the one read at `version`, and
 * not revoked. Every management write to a key is conditional on this, and so is its audit row;
 * put the audit insert *before* the write in the batch so both see the same state.
 */
export function keyUnchanged(db: Db, keyId: string, version: number): SQL {
  return exists(
    db
      .select({ one: sql`1` })
      .from(apiKeys)
      .where(and(eq(apiKeys.id, keyId), eq(apiKeys.version, version), isNull(apiKeys.revokedAt))),
  );
}

/** What every management write sets besides its own fields. */
const touched = (now: number) => ({ updatedAt: now, version: sql`${apiKeys.version} + 1` });

export function keyExists(db: Db, keyId: string): SQL {
  return exists(db.select({ one: sql`1` }).from(apiKeys).where(eq(apiKeys.id, keyId)));
}

export function insertKeyIf(db: Db, row: KeyRow, condition: SQL) {
  return insertWhere(db, apiKeys, row, condition);
}

export async function findKey(db: Db, orgId: string, keyId: string): Promise<KeyRow | null> {
  const rows = await db
    .select()
    .from(apiKeys)
    .where(and(eq(apiKeys.orgId, orgId), eq(apiKeys.id, keyId)))
    .limit(1);
  return rows[0] ?? null;
}

export async function findSuccessor(db: Db, orgId: string, keyId: string): Promise<KeyRow | null> {
  const rows = await db
    .select()
    .from(apiKeys)
    .where(and(eq(apiKeys.orgId, orgId), eq(apiKeys.rotatedFrom, keyId)))
    .limit(1);
  return rows[0] ?? null;
}

/**
 * Applies `changes` only if the key is still the one read at `version` (and not revoked):
 * `meta.changes` is 0 when a concurrent write got there first. New key fields are added to
 * `KeyChanges` and inherit this check.
 */
export function updateKey(db: Db, keyId: string, changes: KeyChanges, now: number, version: number) {
  return db
    .update(apiKeys)
    .set({ ...changes, ...touched(now) })
    .where(and(eq(apiKeys.id, keyId), eq(apiKeys.version, version), isNull(apiKeys.revokedAt)));
}

/** Sets `revoked_at` once, only on the version read; a second revoke changes nothing, so the first time stays the record. */
export function revokeKeyOnce(db: Db, keyId: string, now: number, version: number) {
  return db
    .update(apiKeys)
    .set({ revokedAt: now, ...touched(now) })
    .where(and(eq(apiKeys.id, keyId), eq(apiKeys.version, version), isNull(apiKeys.revokedAt)));
}

/** Grace-period end of a rotated key; only applied if the new key was really written (`when`). */
export function expireKeyAt(db: Db, keyId: string, expiresAt: number, now: number, when: SQL) {
  return db
    .update(apiKeys)
    .set({ expiresAt, ...touched(now) })
    .where(and(eq(apiKeys.id, keyId), when));
}

export function revokeKeyWhen(db: Db, keyId: string, now: number, when: SQL) {
  return db
    .update(apiKeys)
    .set({ revokedAt: now, ...touched(now) })
    .where(and(eq(apiKeys.id, keyId), isNull(apiKeys.revokedAt), when));
}

/** Keys whose cached records could still admit a request (revoked keys are refused regardless): their hashes and limiter ids. */
export async function liveKeys(db: Db, orgId: string): Promise<Pick<KeyRow, "id" | "orgId" | "hash" | "limiterId">[]> {
  return db
    .select({ id: apiKeys.id, orgId: apiKeys.orgId, hash: apiKeys.hash, limiterId: apiKeys.limiterId })
    .from(apiKeys)
    .where(and(eq(apiKeys.orgId, orgId), isNull(apiKeys.revokedAt)));
}

function keyOrder(by: KeySort, descending: boolean): SQL[] {
  const dir = descending ? desc : asc;
  switch (by) {
    case "created_at":
      return [dir(apiKeys.createdAt)];
    case "name":
      return [dir(sql`${apiKeys.name} collate nocase`)];
    // SQLite sorts NULL first: a never-used key counts as the least recently used, which is what
    // "sort=last_used_at" (stalest first) wants.
    case "last_used_at":
      return [dir(apiKeys.lastUsedAt)];
    // A key that never expires sorts after every key that does.
    case "expires_at":
      return [dir(sql`${apiKeys.expiresAt} is null`), dir(apiKeys.expiresAt)];
  }
}

export async function listKeys(db: Db, orgId: string, filters: KeyFilters, sort: { by: KeySort; descending: boolean }, page: Page, now: number) {
  const where = and(
    eq(apiKeys.orgId, orgId),
    filters.statuses?.length ? or(...filters.statuses.map((s) => statusIs(s, now))) : undefined,
    filters.name === undefined ? undefined : containsText(apiKeys.name, filters.name),
    filters.unusedSince === undefined ? undefined : or(isNull(apiKeys.lastUsedAt), lt(apiKeys.lastUsedAt, filters.unusedSince)),
    filters.createdBefore === undefined ? undefined : lte(apiKeys.createdAt, filters.createdBefore),
  );
  const order = [...keyOrder(sort.by, sort.descending), asc(apiKeys.id)];
  const pageIds = db.select({ id: apiKeys.id }).from(apiKeys).where(where).orderBy(...order).limit(page.perPage).offset(offsetOf(page));
  // The page's successors (rotated_to) in the same round trip. A subquery rather than a list of the page's ids: D1
  // binds at most 100 parameters and a page holds up to 100 keys. rotated_from has no index, so this reads the org's
  // keys once (as the count does), never once per key of the page.
  const [rows, totals, successors] = await db.batch([
    db.select().from(apiKeys).where(where).orderBy(...order).limit(page.perPage).offset(offsetOf(page)),
    db.select({ total: count() }).from(apiKeys).where(where),
    db
      .select({ id: apiKeys.id, rotatedFrom: apiKeys.rotatedFrom })
      .from(apiKeys)
      .where(and(eq(apiKeys.orgId, orgId), inArray(apiKeys.rotatedFrom, pageIds))),
  ]);
  const rotatedTo = new Map(successors.map((s) => [s.rotatedFrom!, s.id]));
  return { rows: rows.map((row) => ({ ...row, rotatedTo: rotatedTo.get(row.id) ?? null })), total: totals[0]?.total ?? 0 };
}
