import { z } from "@hono/zod-openapi";
import type { Granularity, UsageBucket, UsageRange, UsageSummary } from "../store/usage";
import { instant, int32, int64, iso, isoInstant, timestamp } from "./schemas";
import { invalidField } from "./validation";

// What the usage routes (routes/usage.*.ts) share: the range query, its bounds and the totals and
// series every usage answer carries.

const HOUR_MS = 3_600_000;
const DAY_MS = 86_400_000;

/** How far back each granularity looks by default, and the longest range it answers (its bucket count stays bounded). */
export const GRANULARITY_RANGES: Record<Granularity, { defaultMs: number; maxMs: number; max: string }> = {
  minute: { defaultMs: HOUR_MS, maxMs: 48 * HOUR_MS, max: "48h" },
  hour: { defaultMs: DAY_MS, maxMs: 31 * DAY_MS, max: "31d" },
  day: { defaultMs: 30 * DAY_MS, maxMs: 400 * DAY_MS, max: "400d" },
};

export const RangeQuery = {
  since: isoInstant.optional().openapi({ description: "Start of the range (default: `until` minus 1h, 24h or 30d for minute, hour or day)" }),
  until: isoInstant.optional().openapi({ description: "End of the range, inclusive (default: now; a bare date includes that whole day, UTC)" }),
  granularity: z
    .enum(["minute", "hour", "day"])
    .default("hour")
    .openapi({ description: "Bucket size of `series`. Longest range: 48h for minute, 31d for hour, 400d for day" }),
};

export const count = int64(0);
export const latency = int32(0, 2_147_483_647);
export const ByStatusSchema = z
  .object({ "1xx": count, "2xx": count, "3xx": count, "4xx": count, "5xx": count })
  .openapi("UsageByStatus", { description: "Calls by status class of the response the client received" });
const LatencySchema = z
  .object({ p50: latency, p95: latency, p99: latency, max: latency })
  .nullable()
  .openapi("UsageLatency", {
    description: "Gateway receipt to response headers, in ms; percentiles from a fixed histogram (the bucket's upper bound, at most ~1.5x the true value, capped by max). Null without calls",
  });
const SummarySchema = z.object({ count, by_status: ByStatusSchema, latency_ms: LatencySchema }).openapi("UsageTotals");
const BucketSchema = z
  .object({ start: timestamp.openapi({ description: "Start of the bucket (UTC)" }), count, by_status: ByStatusSchema, latency_ms: LatencySchema })
  .openapi("UsageBucket");
export const RangeSchema = {
  granularity: z.enum(["minute", "hour", "day"]),
  since: timestamp,
  until: timestamp,
  totals: SummarySchema,
  // 48h of minutes with both ends included: an exact 48h range from a minute start to a minute start has 2881.
  series: z.array(BucketSchema).max(2881).openapi({ description: "Buckets with calls, oldest first (buckets without calls are left out); at most 2881 (48h of minutes, both ends included)" }),
};

export const USAGE_DESCRIPTION =
  "Aggregated per key, minute and status class in each gateway isolate and written from the usage queue, so the last seconds of traffic (USAGE_FLUSH_INTERVAL_MS plus the queue's batch timeout) may not be here yet. Minute buckets are kept USAGE_MINUTE_RETENTION (48h), hour and day buckets USAGE_HOUR_RETENTION (400d). Calls refused before the key was verified (401) are not usage; they are aggregated as auth.failed in the audit trail.";

/** The range a query asks for, or 400 when it is backwards or longer than its granularity allows. */
export function rangeOf(orgId: string, query: { since?: string; until?: string; granularity: Granularity }): UsageRange {
  const bounds = GRANULARITY_RANGES[query.granularity];
  const until = query.until === undefined ? Date.now() : instant(query.until, "end");
  const since = query.since === undefined ? until - bounds.defaultMs : instant(query.since);
  if (since > until) throw invalidField("since", "must not be after until");
  if (until - since > bounds.maxMs) throw invalidField("since", `is more than ${bounds.max} before until; the longest ${query.granularity} range is ${bounds.max} (use a coarser granularity)`);
  return { orgId, since, until, granularity: query.granularity };
}

const bucketJson = (bucket: UsageBucket) => ({ ...bucket, start: iso(bucket.start)! });
export const rangeJson = (range: UsageRange, result: { totals: UsageSummary; series: UsageBucket[] }) => ({
  granularity: range.granularity,
  since: iso(range.since)!,
  until: iso(range.until)!,
  totals: result.totals,
  series: result.series.map(bucketJson),
});
