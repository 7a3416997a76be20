import { and, gt, isNull, lte, or } from "drizzle-orm";
import { drizzle } from "drizzle-orm/d1";
import { newId } from "../keys/ids";
import { notRotated } from "../store/key_events";
import { apiKeys } from "../store/schema";

const DAY_MS = 86_400_000;
/** Rows per statement, passed as one JSON parameter (D1 allows only 100 bound parameters per statement). */
const ROWS_PER_STATEMENT = 500;

/** A key that got a `key.rotation_due` reminder in this run (for the webhook sender). */
export interface RotationReminder {
  /** The audit row's id, which is also the webhook event's id. */
  id: string;
  orgId: string;
  keyId: string;
  name: string;
  ageDays: number;
  /** The audit row's details, which the webhook's data repeats. */
  details: { name: string; age_days: number; period: number; rotate_after_days: number };
}

// `key.rotation_due` is an audit row whose aggregate_key names the key and the period
// (age / ROTATION_REMINDER_AFTER, rounded down): the unique index makes "once per key per period"
// hold however often the cron runs, even twice at once, with no column of its own.
const INSERT_REMINDERS = `INSERT INTO audit_events (id, org_id, action, key_id, actor, source, reason, count, details, created_at, last_seen_at, aggregate_key)
  SELECT value->>0, value->>1, 'key.rotation_due', value->>2, 'keygate', NULL, NULL, 1, value->>3, value->>4, value->>4, value->>5
  FROM json_each(?) WHERE true
  ON CONFLICT(aggregate_key) DO NOTHING
  RETURNING id, key_id, org_id`;

/**
 * The daily reminder (issue 16): every active key older than `afterMs` (ROTATION_REMINDER_AFTER)
 * gets one `key.rotation_due` audit event per period of that length, e.g. at 90, 180, 270 days.
 * Revoked, expired and disabled keys are left alone, and so is a key already rotated (in its grace period). Returns the reminders written by this run.
 */
export async function remindRotations(db: D1Database, afterMs: number | null, now: number): Promise<RotationReminder[]> {
  if (afterMs === null) return [];
  const orm = drizzle(db);
  const due = await orm
    .select({ id: apiKeys.id, orgId: apiKeys.orgId, name: apiKeys.name, createdAt: apiKeys.createdAt })
    .from(apiKeys)
    .where(and(isNull(apiKeys.revokedAt), isNull(apiKeys.disabledAt), or(isNull(apiKeys.expiresAt), gt(apiKeys.expiresAt, now)), lte(apiKeys.createdAt, now - afterMs), notRotated(orm)));
  const byId = new Map(due.map((key) => [key.id, key]));
  const detailsOf = new Map<string, RotationReminder["details"]>();
  const rows = due.map((key) => {
    const ageDays = Math.floor((now - key.createdAt) / DAY_MS);
    const period = Math.floor((now - key.createdAt) / afterMs);
    const details = { name: key.name, age_days: ageDays, period, rotate_after_days: afterMs / DAY_MS };
    detailsOf.set(key.id, details);
    return [newId("evt"), key.orgId, key.id, JSON.stringify(details), now, `key.rotation_due|${key.id}|${period}`];
  });
  const written: RotationReminder[] = [];
  for (let i = 0; i < rows.length; i += ROWS_PER_STATEMENT) {
    const result = await db.prepare(INSERT_REMINDERS).bind(JSON.stringify(rows.slice(i, i + ROWS_PER_STATEMENT))).all<{ id: string; key_id: string; org_id: string }>();
    for (const row of result.results) {
      const key = byId.get(row.key_id)!;
      written.push({ id: row.id, orgId: row.org_id, keyId: row.key_id, name: key.name, ageDays: Math.floor((now - key.createdAt) / DAY_MS), details: detailsOf.get(row.key_id)! });
    }
  }
  return written;
}
