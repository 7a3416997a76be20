import { and, desc, eq, gte, lte, sql, type SQL } from "drizzle-orm";
import { newId } from "../keys/ids";
import type { Db } from "./conditional";
import type { AuthFailureRecord, CallRecord } from "../usage/record";
import { usageEvents } from "./schema";

/**
 * Writes one queue batch in one D1 batch (a single transaction: all of it or none, so a retried
 * batch never half-applies). Rows travel as one JSON parameter per statement and are unpacked by
 * `json_each`: D1 allows 100 bound parameters per statement and, on the free plan, 50 queries per
 * invocation, so row-per-parameter inserts would need hundreds of statements for a full batch.
 */
export async function writeUsageBatch(db: D1Database, calls: CallRecord[], failures: AuthFailureRecord[], hourOf = hourStart): Promise<void> {
  // Plain D1 statements rather than drizzle builders: drizzle has no INSERT ... SELECT FROM json_each.
  const statements: D1PreparedStatement[] = [];
  const rowsOf = (rows: unknown[][]) => JSON.stringify(rows);

  for (let i = 0; i < calls.length; i += ROWS_PER_STATEMENT) {
    const rows = calls.slice(i, i + ROWS_PER_STATEMENT).map((c) => [c.keyId, c.orgId, c.method, c.path, c.status, c.latencyMs, c.at]);
    statements.push(db.prepare(INSERT_CALLS).bind(rowsOf(rows)));
  }

  const lastUsed = latestCallPerKey(calls);
  if (lastUsed.length > 0) statements.push(db.prepare(UPDATE_LAST_USED).bind(rowsOf(lastUsed)));

  const { attributed, unattributed } = aggregateFailures(failures, hourOf);
  if (attributed.length > 0) {
    const rows = attributed.map((g) => [newId("evt"), g.orgId, g.keyId, g.source, g.reason, g.count, JSON.stringify({ hour_start: g.hour }), g.firstAt, g.lastAt, g.bucket]);
    statements.push(db.prepare(UPSERT_AUDIT_FAILURES).bind(rowsOf(rows)));
  }
  if (unattributed.length > 0) {
    const rows = unattributed.map((g) => [g.bucket, g.source, g.reason, g.count, g.firstAt, g.lastAt]);
    statements.push(db.prepare(UPSERT_AUTH_FAILURES).bind(rowsOf(rows)));
  }

  if (statements.length > 0) await db.batch(statements);
}

const INSERT_CALLS = `INSERT INTO usage_events (key_id, org_id, method, path, status, latency_ms, at)
  SELECT value->>0, value->>1, value->>2, value->>3, value->>4, value->>5, value->>6 FROM json_each(?)`;

// max(existing, latest): batches may arrive out of order (retries), so last_used_at never goes back.
const UPDATE_LAST_USED = `UPDATE api_keys SET last_used_at = latest.at
  FROM (SELECT value->>0 AS id, value->>1 AS at FROM json_each(?)) AS latest
  WHERE api_keys.id = latest.id AND (api_keys.last_used_at IS NULL OR api_keys.last_used_at < latest.at)`;

// One `auth.failed` audit row per org, key, source, reason and hour: a flood bumps a counter.
// (`WHERE true` is SQLite's required disambiguation for an upsert fed by a SELECT.)
const UPSERT_AUDIT_FAILURES = `INSERT INTO audit_events (id, org_id, action, key_id, actor, source, reason, count, details, created_at, last_seen_at, aggregate_key)
  SELECT value->>0, value->>1, 'auth.failed', value->>2, value->>2, value->>3, value->>4, value->>5, value->>6, value->>7, value->>8, value->>9
  FROM json_each(?) WHERE true
  ON CONFLICT(aggregate_key) DO UPDATE SET count = count + excluded.count, last_seen_at = max(last_seen_at, excluded.last_seen_at)`;

const UPSERT_AUTH_FAILURES = `INSERT INTO auth_failures (bucket, source, reason, count, first_seen_at, last_seen_at)
  SELECT value->>0, value->>1, value->>2, value->>3, value->>4, value->>5 FROM json_each(?) WHERE true
  ON CONFLICT(bucket) DO UPDATE SET count = count + excluded.count,
    first_seen_at = min(first_seen_at, excluded.first_seen_at), last_seen_at = max(last_seen_at, excluded.last_seen_at)`;

/** Rows per JSON parameter: ~400 bytes each keeps a statement's parameter well under D1's 2 MB value limit. */
const ROWS_PER_STATEMENT = 500;
const HOUR_MS = 3_600_000;

export function hourStart(at: number): number {
  return at - (at % HOUR_MS);
}

function latestCallPerKey(calls: CallRecord[]): [string, number][] {
  const latest = new Map<string, number>();
  for (const call of calls) {
    const seen = latest.get(call.keyId);
    if (seen === undefined || call.at > seen) latest.set(call.keyId, call.at);
  }
  return [...latest];
}

export interface FailureGroup {
  bucket: string;
  orgId: string | null;
  keyId: string | null;
  source: string;
  reason: string;
  hour: number;
  count: number;
  firstAt: number;
  lastAt: number;
}

/**
 * Groups failures per (org and key when known, source, reason, hour). Failures by a key that
 * exists (revoked, expired) belong to its org's audit trail; the rest (no key, garbage, unknown
 * keys) belong to nobody and go to `auth_failures`.
 */
export function aggregateFailures(failures: AuthFailureRecord[], hourOf = hourStart): { attributed: FailureGroup[]; unattributed: FailureGroup[] } {
  const groups = new Map<string, FailureGroup>();
  for (const f of failures) {
    const hour = hourOf(f.at);
    const bucket = f.orgId ? `auth.failed|${f.orgId}|${f.keyId ?? ""}|${f.source}|${f.reason}|${hour}` : `${f.source}|${f.reason}|${hour}`;
    const group = groups.get(bucket);
    if (group) {
      group.count++;
      group.firstAt = Math.min(group.firstAt, f.at);
      group.lastAt = Math.max(group.lastAt, f.at);
    } else {
      groups.set(bucket, { bucket, orgId: f.orgId, keyId: f.keyId, source: f.source, reason: f.reason, hour, count: 1, firstAt: f.at, lastAt: f.at });
    }
  }
  const all = [...groups.values()];
  return { attributed: all.filter((g) => g.orgId !== null), unattributed: all.filter((g) => g.orgId === null) };
}

export type StatusClass = "2xx" | "3xx" | "4xx" | "5xx";

export interface UsageQuery {
  keyId: string;
  orgId: string;
  /** Epoch ms, inclusive. */
  since?: number;
  /** Epoch ms, inclusive. */
  until?: number;
  page: number;
  perPage: number;
}

export interface KeyUsage {
  counts: Record<StatusClass, number>;
  total: number;
  recent: { method: string; path: string; status: number; latency_ms: number; at: number }[];
}

/** Counts by status class and one page of calls, newest first; both served by the (key_id, at) index. */
export async function usageForKey(orm: Db, query: UsageQuery): Promise<KeyUsage> {
  const conditions: SQL[] = [eq(usageEvents.keyId, query.keyId), eq(usageEvents.orgId, query.orgId)];
  if (query.since !== undefined) conditions.push(gte(usageEvents.at, query.since));
  if (query.until !== undefined) conditions.push(lte(usageEvents.at, query.until));
  const where = and(...conditions);

  const statusClass = sql<number>`${usageEvents.status} / 100`;
  const [classRows, recent] = await orm.batch([
    orm.select({ statusClass, count: sql<number>`count(*)` }).from(usageEvents).where(where).groupBy(statusClass),
    orm
      .select({ method: usageEvents.method, path: usageEvents.path, status: usageEvents.status, latency_ms: usageEvents.latencyMs, at: usageEvents.at })
      .from(usageEvents)
      .where(where)
      .orderBy(desc(usageEvents.at), desc(usageEvents.id))
      .limit(query.perPage)
      .offset((query.page - 1) * query.perPage),
  ]);

  const counts: Record<StatusClass, number> = { "2xx": 0, "3xx": 0, "4xx": 0, "5xx": 0 };
  let total = 0;
  for (const row of classRows) {
    const name = `${row.statusClass}xx`;
    if (name in counts) counts[name as StatusClass] += row.count;
    total += row.count;
  }
  return { counts, total, recent };
}
