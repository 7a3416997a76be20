import { and, count, desc, eq, gte, inArray, lte, type SQL } from "drizzle-orm";
import { newId } from "../keys/ids";
import { type Db, insertWhere, offsetOf, type Page } from "./conditional";
import { auditEvents } from "./schema";

export const AUDIT_ACTIONS = [
  "key.created",
  "key.updated",
  "key.revoked",
  "key.rotated",
  "key.disabled",
  "key.enabled",
  "key.leaked",
  "key.expiring",
  "key.rotation_due",
  "org.created",
  "org.updated",
  "auth.failed",
] as const;
export type AuditAction = (typeof AUDIT_ACTIONS)[number];
export type AuditRow = typeof auditEvents.$inferSelect;

export interface AuditEntry {
  /** Set when the caller needs the row's id before the batch runs (it becomes the webhook event id). */
  id?: string;
  orgId: string;
  action: Exclude<AuditAction, "auth.failed" | "key.rotation_due">;
  /** "operator" or the id of the org key that acted. */
  actor: string;
  keyId?: string | null;
  /** Never a key, a hash or a token: names, scopes, times and ids only. */
  details?: Record<string, unknown> | null;
}

export interface AuditFilters {
  actions?: AuditAction[];
  keyId?: string;
  /** Epoch ms; rows whose [created_at, last_seen_at] span overlaps [since, until]. */
  since?: number;
  until?: number;
}

function auditRow(entry: AuditEntry, now: number): AuditRow {
  return {
    id: entry.id ?? newId("evt"),
    orgId: entry.orgId,
    action: entry.action,
    keyId: entry.keyId ?? null,
    actor: entry.actor,
    source: null,
    reason: null,
    count: 1,
    details: entry.details ?? null,
    createdAt: now,
    lastSeenAt: now,
    aggregateKey: null,
  };
}

/** An audit insert to put in the same batch as the change it records. */
export function recordAudit(db: Db, entry: AuditEntry, now: number) {
  return db.insert(auditEvents).values(auditRow(entry, now));
}

/** Recorded only if `condition` holds when the batch runs, i.e. only if the change happened. */
export function recordAuditIf(db: Db, entry: AuditEntry, now: number, condition: SQL) {
  return insertWhere(db, auditEvents, auditRow(entry, now), condition);
}

/** Newest first by first occurrence, so aggregated rows do not jump between pages while they grow. */
export async function listAudit(db: Db, orgId: string, filters: AuditFilters, page: Page) {
  const where = and(
    eq(auditEvents.orgId, orgId),
    filters.actions?.length ? inArray(auditEvents.action, filters.actions) : undefined,
    filters.keyId === undefined ? undefined : eq(auditEvents.keyId, filters.keyId),
    filters.since === undefined ? undefined : gte(auditEvents.lastSeenAt, filters.since),
    filters.until === undefined ? undefined : lte(auditEvents.createdAt, filters.until),
  );
  const [rows, totals] = await db.batch([
    db.select().from(auditEvents).where(where).orderBy(desc(auditEvents.createdAt), desc(auditEvents.id)).limit(page.perPage).offset(offsetOf(page)),
    db.select({ total: count() }).from(auditEvents).where(where),
  ]);
  return { rows, total: totals[0]?.total ?? 0 };
}
