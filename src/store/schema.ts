import { index, integer, primaryKey, sqliteTable, text, uniqueIndex } from "drizzle-orm/sqlite-core";
import { HISTOGRAM_BUCKETS } from "./histogram";

// Times are epoch milliseconds (INTEGER): cheap to compare on the hot path and in filters.

export const orgs = sqliteTable("orgs", {
  id: text("id").primaryKey(),
  name: text("name").notNull(),
  tier: text("tier").notNull(),
  maxActiveKeys: integer("max_active_keys").notNull().default(25),
  createdAt: integer("created_at").notNull(),
  updatedAt: integer("updated_at").notNull(),
});

/** v1 override, still read from old rows: one limit, which is the `default` window. */
export interface KeyRateLimit {
  limit: number;
  /** Window in milliseconds. */
  window: number;
  mode?: "strict" | "fast";
}

export interface KeyWindowLimit extends KeyRateLimit {
  name: string;
  /** The window as the caller wrote it ("60s"), shown back as written; `window` (ms) is what counts. Absent in rows written before it was kept. */
  text?: string;
}

export interface KeyQuota {
  limit: number;
  period: "day" | "month";
}

/** A key's own limits (SPEC §7): windows that replace the tier's of the same name, and a quota. */
export interface KeyLimits {
  limits?: KeyWindowLimit[];
  quota?: KeyQuota;
}

/** What the `rate_limit` column holds: the v2 form, or a v1 row's single window. */
export type StoredKeyLimits = KeyLimits | KeyRateLimit;

/** Any stored form as `KeyLimits`: the v1 form is one window named `default`. */
export function keyLimitsOf(stored: StoredKeyLimits | null | undefined): KeyLimits | null {
  if (!stored) return null;
  if ("limit" in stored) return { limits: [{ name: "default", limit: stored.limit, window: stored.window, ...(stored.mode ? { mode: stored.mode } : {}) }] };
  return stored;
}

export const apiKeys = sqliteTable(
  "api_keys",
  {
    id: text("id").primaryKey(),
    orgId: text("org_id")
      .notNull()
      .references(() => orgs.id),
    name: text("name").notNull(),
    /** SHA-256 hex of the full key. The key itself is never stored. */
    hash: text("hash").notNull(),
    identifier: text("identifier").notNull(),
    last4: text("last4").notNull(),
    scopes: text("scopes", { mode: "json" }).$type<string[]>().notNull(),
    rateLimit: text("rate_limit", { mode: "json" }).$type<StoredKeyLimits | null>(),
    /** The first key of the rotation chain (null: this key): its successors share its limiter counters. */
    limiterId: text("limiter_id"),
    meta: text("meta", { mode: "json" }).$type<Record<string, unknown> | null>(),
    rotatedFrom: text("rotated_from"),
    createdAt: integer("created_at").notNull(),
    updatedAt: integer("updated_at").notNull(),
    expiresAt: integer("expires_at"),
    revokedAt: integer("revoked_at"),
    lastUsedAt: integer("last_used_at"),
    /** Normalised IPv4/IPv6 addresses and CIDR ranges the key may be used from; null or empty: anywhere. */
    allowedIps: text("allowed_ips", { mode: "json" }).$type<string[] | null>(),
    /** Set while the key is suspended (PATCH `enabled: false`); null when enabled. */
    disabledAt: integer("disabled_at"),
    /**
     * Optimistic concurrency: bumped by every management write to the row (update, revoke, rotate,
     * and any write added later). Each such write is conditional on the version it read, so a write
     * based on a stale read changes nothing instead of silently undoing a concurrent one.
     * (`last_used_at`, written by the usage consumer, is not a management change and does not bump it.)
     */
    version: integer("version").notNull().default(0),
  },
  (t) => [
    uniqueIndex("api_keys_hash_unique").on(t.hash),
    index("api_keys_org_created_idx").on(t.orgId, t.createdAt),
    index("api_keys_org_last_used_idx").on(t.orgId, t.lastUsedAt),
  ],
);

export const auditEvents = sqliteTable(
  "audit_events",
  {
    id: text("id").primaryKey(),
    orgId: text("org_id").notNull(),
    action: text("action").notNull(),
    keyId: text("key_id"),
    /** "operator" or the id of the org key that acted. */
    actor: text("actor").notNull(),
    /** For aggregated `auth.failed`: the source (client IP) and reason. */
    source: text("source"),
    reason: text("reason"),
    /** Aggregation: how many events this row stands for, and when the last one happened. */
    count: integer("count").notNull().default(1),
    details: text("details", { mode: "json" }).$type<Record<string, unknown> | null>(),
    createdAt: integer("created_at").notNull(),
    lastSeenAt: integer("last_seen_at").notNull(),
    /** Bucket key for aggregated rows (`auth.failed` per org/key, source, reason and hour); null otherwise. */
    aggregateKey: text("aggregate_key"),
  },
  (t) => [
    index("audit_org_created_idx").on(t.orgId, t.createdAt),
    // Retention prunes aggregated auth.failed rows by age (AUTH_FAILURE_RETENTION) without a full scan.
    index("audit_action_last_seen_idx").on(t.action, t.lastSeenAt),
    uniqueIndex("audit_aggregate_key_unique").on(t.aggregateKey),
    // "Has this key been announced as expiring / leaked here before?" (src/store/key_events.ts), and the key_id filter.
    index("audit_key_action_idx").on(t.keyId, t.action),
  ],
);

/**
 * One INTEGER column per latency histogram bucket (histogram.ts), so upserts add them up
 * in SQL (zeros cost SQLite one header byte each). Only raw SQL in store/usage.ts reads them, so
 * they are left out of the table's TypeScript type.
 */
function histogramColumns() {
  return Object.fromEntries(Array.from({ length: HISTOGRAM_BUCKETS }, (_, i) => [`h${i}`, integer(`h${i}`).notNull().default(0)])) as unknown as Record<never, never>;
}

/**
 * SPEC §8: a key's calls per minute and status class (1-5). Written only by the usage consumer's
 * upserts, kept USAGE_MINUTE_RETENTION. Rows grow with keys x minutes, never with call volume.
 */
export const usageMinutes = sqliteTable(
  "usage_minutes",
  {
    keyId: text("key_id").notNull(),
    orgId: text("org_id").notNull(),
    /** Epoch ms of the minute's start. */
    minute: integer("minute").notNull(),
    statusClass: integer("status_class").notNull(),
    count: integer("count").notNull(),
    maxMs: integer("max_ms").notNull(),
    ...histogramColumns(),
  },
  // Org first: the org view and the key view (which always knows its org) both read a prefix of it.
  // Retention deletes by age: the minute index keeps that from scanning the table.
  (t) => [primaryKey({ columns: [t.orgId, t.keyId, t.minute, t.statusClass] }), index("usage_minutes_minute_idx").on(t.minute)],
);

/** The same per hour, rolled up by the consumer in the same transaction; kept USAGE_HOUR_RETENTION. Day buckets are summed from these. */
export const usageHours = sqliteTable(
  "usage_hours",
  {
    keyId: text("key_id").notNull(),
    orgId: text("org_id").notNull(),
    /** Epoch ms of the hour's start. */
    hour: integer("hour").notNull(),
    statusClass: integer("status_class").notNull(),
    count: integer("count").notNull(),
    maxMs: integer("max_ms").notNull(),
    ...histogramColumns(),
  },
  (t) => [primaryKey({ columns: [t.orgId, t.keyId, t.hour, t.statusClass] }), index("usage_hours_hour_idx").on(t.hour)],
);

/** A bounded sample of each key's latest calls: the consumer keeps at most RECENT_PER_KEY rows per key (a ring). */
export const usageRecent = sqliteTable(
  "usage_recent",
  {
    id: integer("id").primaryKey({ autoIncrement: true }),
    keyId: text("key_id").notNull(),
    orgId: text("org_id").notNull(),
    method: text("method").notNull(),
    path: text("path").notNull(),
    status: integer("status").notNull(),
    latencyMs: integer("latency_ms").notNull(),
    at: integer("at").notNull(),
  },
  (t) => [index("usage_recent_key_at_idx").on(t.keyId, t.at)],
);

// `usage_applied` (ids of usage messages already applied, so a redelivered one counts once) is created
// by drizzle/0004_move_usage_events.sql as a WITHOUT ROWID table, which drizzle cannot declare: one
// b-tree instead of a table plus its primary-key index halves what every queue message leaves in D1.

/**
 * Failed authentications that cannot be tied to an org (unknown or malformed keys),
 * aggregated per source, reason and hour so a flood cannot flood the table.
 */
export const authFailures = sqliteTable(
  "auth_failures",
  {
    bucket: text("bucket").primaryKey(),
    source: text("source").notNull(),
    reason: text("reason").notNull(),
    count: integer("count").notNull().default(1),
    firstSeenAt: integer("first_seen_at").notNull(),
    lastSeenAt: integer("last_seen_at").notNull(),
  },
  (t) => [index("auth_failures_last_seen_idx").on(t.lastSeenAt)],
);

