import { newId } from "../keys/ids";
import { HISTOGRAM_BUCKETS, type LatencySummary, summarize } from "./histogram";
import type { FailureAggregate, UsageMessage } from "./usage_message";

/** D1 keeps this many recent calls per key (a ring: the consumer trims older ones). */
export const RECENT_PER_KEY = 100;

/**
 * SPEC §8 storage. Writes one queue batch in one D1 batch (a single transaction: all of it or
 * none, so a retried batch never half-applies). Every row carries the id of the message it came
 * from, and rows of messages already in `usage_applied` are skipped: a redelivered message counts
 * once. Rows travel as one JSON parameter per statement and are unpacked by `json_each`: D1 allows
 * 100 bound parameters per statement and, on the free plan, 50 queries per invocation.
 * Plain D1 statements rather than drizzle builders: drizzle has no INSERT ... SELECT FROM json_each
 * with ON CONFLICT arithmetic over 25 histogram columns.
 */
export async function writeUsageBatch(db: D1Database, messages: UsageMessage[], now = Date.now()): Promise<void> {
  const statements: D1PreparedStatement[] = [];
  const chunked = (sqlText: string, rows: unknown[][]) => {
    for (let i = 0; i < rows.length; i += ROWS_PER_STATEMENT) statements.push(db.prepare(sqlText).bind(JSON.stringify(rows.slice(i, i + ROWS_PER_STATEMENT))));
  };

  const aggregates = messages.flatMap((m) => m.aggregates.map((a) => [m.id, a.keyId, a.orgId, a.minute, a.statusClass, a.count, a.maxMs, ...a.histogram]));
  chunked(UPSERT_MINUTES, aggregates);
  chunked(UPSERT_HOURS, aggregates);

  const recent = messages.flatMap((m) => m.recent.map((c) => [m.id, c.keyId, c.orgId, c.method, c.path, c.status, c.latencyMs, c.at]));
  chunked(INSERT_RECENT, recent);
  const keyIds = [...new Set(messages.flatMap((m) => m.recent.map((c) => c.keyId)))];
  if (keyIds.length > 0) chunked(TRIM_RECENT, keyIds.map((id) => [id]));

  const lastUsed = new Map<string, number>();
  for (const m of messages) for (const c of m.recent) if (c.at > (lastUsed.get(c.keyId) ?? 0)) lastUsed.set(c.keyId, c.at);
  if (lastUsed.size > 0) chunked(UPDATE_LAST_USED, [...lastUsed]);

  const failures = messages.flatMap((m) => m.failures.map((f) => [m.id, f] as const));
  const attributed = failures.filter(([, f]) => f.orgId !== null);
  const unattributed = failures.filter(([, f]) => f.orgId === null);
  chunked(
    UPSERT_AUDIT_FAILURES,
    attributed.map(([id, f]) => [id, newId("evt"), f.orgId, f.keyId, f.source, f.reason, f.count, JSON.stringify({ hour_start: f.hour }), f.firstAt, f.lastAt, failureBucket(f)]),
  );
  chunked(UPSERT_AUTH_FAILURES, unattributed.map(([id, f]) => [id, failureBucket(f), f.source, f.reason, f.count, f.firstAt, f.lastAt]));

  // Last, in the same transaction: from now on these messages are skipped if delivered again.
  chunked(MARK_APPLIED, messages.map((m) => [m.id, now]));
  if (statements.length > 0) await db.batch(statements);
}

/** Bucket keys of failure aggregates; the same as before aggregation moved into the isolate, so existing rows keep counting. */
export function failureBucket(f: Pick<FailureAggregate, "orgId" | "keyId" | "source" | "reason" | "hour">): string {
  return f.orgId ? `auth.failed|${f.orgId}|${f.keyId ?? ""}|${f.source}|${f.reason}|${f.hour}` : `${f.source}|${f.reason}|${f.hour}`;
}

const H = Array.from({ length: HISTOGRAM_BUCKETS }, (_, i) => `h${i}`);
const NOT_APPLIED = `value->>0 NOT IN (SELECT id FROM usage_applied)`;
const histogramValues = H.map((_, i) => `value->>${7 + i}`).join(", ");
const histogramSums = H.map((h) => `${h} = ${h} + excluded.${h}`).join(", ");

// (`WHERE ...` is also SQLite's required disambiguation for an upsert fed by a SELECT.)
const UPSERT_MINUTES = `INSERT INTO usage_minutes (key_id, org_id, minute, status_class, count, max_ms, ${H.join(", ")})
  SELECT value->>1, value->>2, value->>3, value->>4, value->>5, value->>6, ${histogramValues} FROM json_each(?) WHERE ${NOT_APPLIED}
  ON CONFLICT(org_id, key_id, minute, status_class) DO UPDATE SET count = count + excluded.count, max_ms = max(max_ms, excluded.max_ms), ${histogramSums}`;

// The hourly rollup: the same deltas, added to the minute's hour in the same transaction.
const UPSERT_HOURS = `INSERT INTO usage_hours (key_id, org_id, hour, status_class, count, max_ms, ${H.join(", ")})
  SELECT value->>1, value->>2, (value->>3) - (value->>3) % 3600000, value->>4, value->>5, value->>6, ${histogramValues} FROM json_each(?) WHERE ${NOT_APPLIED}
  ON CONFLICT(org_id, key_id, hour, status_class) DO UPDATE SET count = count + excluded.count, max_ms = max(max_ms, excluded.max_ms), ${histogramSums}`;

const INSERT_RECENT = `INSERT INTO usage_recent (key_id, org_id, method, path, status, latency_ms, at)
  SELECT value->>1, value->>2, value->>3, value->>4, value->>5, value->>6, value->>7 FROM json_each(?) WHERE ${NOT_APPLIED}`;

// The ring: each key touched keeps only its RECENT_PER_KEY latest calls (served by usage_recent_key_at_idx).
const TRIM_RECENT = `DELETE FROM usage_recent WHERE id IN (
  SELECT id FROM (SELECT id, row_number() OVER (PARTITION BY key_id ORDER BY at DESC, id DESC) AS n
    FROM usage_recent WHERE key_id IN (SELECT value->>0 FROM json_each(?)))
  WHERE n > ${RECENT_PER_KEY})`;

// max(existing, latest): batches may arrive out of order (retries), so last_used_at never goes back.
const UPDATE_LAST_USED = `UPDATE api_keys SET last_used_at = latest.at
  FROM (SELECT value->>0 AS id, value->>1 AS at FROM json_each(?)) AS latest
  WHERE api_keys.id = latest.id AND (api_keys.last_used_at IS NULL OR api_keys.last_used_at < latest.at)`;

// One `auth.failed` audit row per org, key, source, reason and hour: a flood bumps a counter.
const UPSERT_AUDIT_FAILURES = `INSERT INTO audit_events (id, org_id, action, key_id, actor, source, reason, count, details, created_at, last_seen_at, aggregate_key)
  SELECT value->>1, value->>2, 'auth.failed', value->>3, value->>3, value->>4, value->>5, value->>6, value->>7, value->>8, value->>9, value->>10
  FROM json_each(?) WHERE ${NOT_APPLIED}
  ON CONFLICT(aggregate_key) DO UPDATE SET count = count + excluded.count,
    created_at = min(created_at, excluded.created_at), last_seen_at = max(last_seen_at, excluded.last_seen_at)`;

const UPSERT_AUTH_FAILURES = `INSERT INTO auth_failures (bucket, source, reason, count, first_seen_at, last_seen_at)
  SELECT value->>1, value->>2, value->>3, value->>4, value->>5, value->>6 FROM json_each(?) WHERE ${NOT_APPLIED}
  ON CONFLICT(bucket) DO UPDATE SET count = count + excluded.count,
    first_seen_at = min(first_seen_at, excluded.first_seen_at), last_seen_at = max(last_seen_at, excluded.last_seen_at)`;

const MARK_APPLIED = `INSERT OR IGNORE INTO usage_applied (id, applied_at) SELECT value->>0, value->>1 FROM json_each(?)`;

/** Rows per JSON parameter: ~300 bytes each keeps a statement's parameter well under D1's 2 MB value limit. */
const ROWS_PER_STATEMENT = 2_000;

export type Granularity = "minute" | "hour" | "day";
export const STATUS_CLASSES = ["1xx", "2xx", "3xx", "4xx", "5xx"] as const;
export type ByStatus = Record<(typeof STATUS_CLASSES)[number], number>;

export interface UsageSummary {
  count: number;
  by_status: ByStatus;
  latency_ms: LatencySummary | null;
}
export interface UsageBucket extends UsageSummary {
  /** Epoch ms of the bucket's start. */
  start: number;
}
export interface RecentCallRow {
  method: string;
  path: string;
  status: number;
  latency_ms: number;
  at: number;
}

export interface UsageRange {
  orgId: string;
  /** Epoch ms, inclusive; already checked against the granularity's bounds. */
  since: number;
  until: number;
  granularity: Granularity;
}

const BUCKET_MS: Record<Granularity, number> = { minute: 60_000, hour: 3_600_000, day: 86_400_000 };

/** minute buckets come from usage_minutes; hour and day buckets from the hourly rollup. */
function source(granularity: Granularity) {
  return granularity === "minute" ? { table: "usage_minutes", column: "minute" } : { table: "usage_hours", column: "hour" };
}

/** Rows of one range (every bucket that starts in it, or contains `since`), grouped by bucket and status class. */
async function bucketRows(db: D1Database, range: UsageRange, keyId: string | null) {
  const { table, column } = source(range.granularity);
  const size = BUCKET_MS[range.granularity];
  const from = range.since - (range.since % size);
  const bucket = range.granularity === "day" ? `${column} - ${column} % ${size}` : column;
  const keyFilter = keyId === null ? "" : "AND key_id = ?4";
  const sqlText = `SELECT ${bucket} AS bucket, status_class, sum(count) AS count, max(max_ms) AS max_ms, ${H.map((h) => `sum(${h}) AS ${h}`).join(", ")}
    FROM ${table} WHERE org_id = ?1 AND ${column} >= ?2 AND ${column} <= ?3 ${keyFilter}
    GROUP BY 1, 2 ORDER BY 1`;
  const params: unknown[] = [range.orgId, from, range.until];
  if (keyId !== null) params.push(keyId);
  const { results } = await db.prepare(sqlText).bind(...params).all<Record<string, number>>();
  return results;
}

class Accumulator {
  count = 0;
  byStatus: ByStatus = { "1xx": 0, "2xx": 0, "3xx": 0, "4xx": 0, "5xx": 0 };
  maxMs = 0;
  histogram = new Array<number>(HISTOGRAM_BUCKETS).fill(0);

  add(row: Record<string, number>): void {
    this.count += row.count!;
    const name = STATUS_CLASSES[row.status_class! - 1];
    if (name) this.byStatus[name] += row.count!;
    this.maxMs = Math.max(this.maxMs, row.max_ms!);
    for (let i = 0; i < HISTOGRAM_BUCKETS; i++) this.histogram[i]! += row[`h${i}`]!;
  }

  summary(): UsageSummary {
    return { count: this.count, by_status: this.byStatus, latency_ms: summarize(this.histogram, this.maxMs) };
  }
}

/** Totals and the series (buckets with calls only, oldest first) of one key or of a whole org. */
export async function usageSeries(db: D1Database, range: UsageRange, keyId: string | null): Promise<{ totals: UsageSummary; series: UsageBucket[] }> {
  const rows = await bucketRows(db, range, keyId);
  const totals = new Accumulator();
  const buckets = new Map<number, Accumulator>();
  for (const row of rows) {
    totals.add(row);
    let bucket = buckets.get(row.bucket!);
    if (!bucket) buckets.set(row.bucket!, (bucket = new Accumulator()));
    bucket.add(row);
  }
  return { totals: totals.summary(), series: [...buckets].map(([start, acc]) => ({ start, ...acc.summary() })) };
}

/** The key's sampled recent calls, newest first (at most RECENT_PER_KEY). */
export async function recentCalls(db: D1Database, orgId: string, keyId: string): Promise<RecentCallRow[]> {
  const { results } = await db
    .prepare(`SELECT method, path, status, latency_ms, at FROM usage_recent WHERE key_id = ? AND org_id = ? ORDER BY at DESC, id DESC LIMIT ${RECENT_PER_KEY}`)
    .bind(keyId, orgId)
    .all<RecentCallRow>();
  return results;
}

export interface KeyTotals {
  key_id: string;
  count: number;
  by_status: ByStatus;
}

/** Per-key totals of an org over a range, busiest first. */
export async function perKeyTotals(db: D1Database, range: UsageRange): Promise<KeyTotals[]> {
  const { table, column } = source(range.granularity);
  const from = range.since - (range.since % BUCKET_MS[range.granularity]);
  const { results } = await db
    .prepare(`SELECT key_id, status_class, sum(count) AS count FROM ${table} WHERE org_id = ? AND ${column} >= ? AND ${column} <= ? GROUP BY 1, 2`)
    .bind(range.orgId, from, range.until)
    .all<{ key_id: string; status_class: number; count: number }>();
  const keys = new Map<string, KeyTotals>();
  for (const row of results) {
    let totals = keys.get(row.key_id);
    if (!totals) keys.set(row.key_id, (totals = { key_id: row.key_id, count: 0, by_status: { "1xx": 0, "2xx": 0, "3xx": 0, "4xx": 0, "5xx": 0 } }));
    totals.count += row.count;
    const name = STATUS_CLASSES[row.status_class - 1];
    if (name) totals.by_status[name] += row.count;
  }
  return [...keys.values()].sort((a, b) => b.count - a.count || (a.key_id < b.key_id ? -1 : 1));
}

/** Polls `usage_applied` until every one of these message ids is there, or the time is up. */
export async function appliedWithin(db: D1Database, ids: string[], timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  const list = JSON.stringify(ids);
  for (;;) {
    const row = await db.prepare("SELECT count(*) AS n FROM usage_applied WHERE id IN (SELECT value FROM json_each(?))").bind(list).first<{ n: number }>();
    if ((row?.n ?? 0) >= ids.length) return true;
    if (Date.now() >= deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}
