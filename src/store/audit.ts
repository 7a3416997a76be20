import { and, count, desc, eq, gte, inArray, lte, type SQL } from "drizzle-orm";
import { writtenDuration } from "../duration";
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

/**
 * Audit details as the API writes everything else: times (`*_at` fields, stored as epoch ms, also as
 * the `from`/`to` of a change) in ISO 8601, a rate_limit's window as a duration, as its caller wrote it ("60s"). Done at read
 * time, so rows written before this rule read the same way. The audit trail and the webhook of the
 * same event (same id) both show details this way, so a receiver catching up from the audit trail
 * reads what the webhook said.
 */
export function presentAuditDetails(details: Record<string, unknown>): Record<string, unknown> {
  const present = (name: string, value: unknown): unknown => {
    if (name.endsWith("_at") && typeof value === "number") return new Date(value).toISOString();
    if (name === "rate_limit" && isStoredRateLimit(value)) return presentWindow(value);
    if (name === "rate_limit" && hasStoredLimits(value)) {
      return { ...value, limits: value.limits.map((limit) => (isStoredRateLimit(limit) ? presentWindow(limit) : limit)) };
    }
    // A key's meta is the caller's own JSON: returned exactly as given.
    if (name !== "meta" && value && typeof value === "object" && !Array.isArray(value)) {
      const record = value as Record<string, unknown>;
      // A change { from, to } of a field: present both sides as that field.
      const keys = Object.keys(record);
      if (keys.length > 0 && keys.every((k) => k === "from" || k === "to")) return { from: present(name, record.from), to: present(name, record.to) };
      return Object.fromEntries(Object.entries(record).map(([k, v]) => [k, present(k, v)]));
    }
    return value;
  };
  return present("", details) as Record<string, unknown>;
}

/** A stored window as the key shows it: as its caller wrote it (the `text` kept beside the ms goes into `window`). */
function presentWindow({ text, ...limit }: { limit: number; window: number; text?: string }) {
  return { ...limit, window: writtenDuration(limit.window, text) };
}

function isStoredRateLimit(value: unknown): value is { limit: number; window: number; text?: string } {
  return typeof value === "object" && value !== null && typeof (value as { window?: unknown }).window === "number";
}

function hasStoredLimits(value: unknown): value is { limits: unknown[] } {
  return typeof value === "object" && value !== null && Array.isArray((value as { limits?: unknown }).limits);
}
