import { createRoute, z } from "@hono/zod-openapi";
import { findKey } from "../store/keys";
import { findOrg } from "../store/orgs";
import { appliedWithin, type Granularity, perKeyTotals, recentCalls, type UsageBucket, type UsageRange, usageSeries, type UsageSummary } from "../store/usage";
import { runtimeFor } from "../isolate";
import { authorizeOrg, orgNotFound, requireOperator } from "./auth";
import type { ManagementApp } from "./context";
import { keyNotFound } from "./keys";
import { errorResponses, idString, instant, int32, int64, iso, isoInstant, jsonResponse, KeyIdParams, OrgIdParam, PaginationSchema, pageQuery, security, timestamp } from "./schemas";
import { invalidField } from "./validation";

const HOUR_MS = 3_600_000;
const DAY_MS = 86_400_000;

/** How far back each granularity looks by default, and the longest range it answers (its bucket count stays bounded). */
export const GRANULARITY_RANGES: Record<Granularity, { defaultMs: number; maxMs: number; max: string }> = {
  minute: { defaultMs: HOUR_MS, maxMs: 48 * HOUR_MS, max: "48h" },
  hour: { defaultMs: DAY_MS, maxMs: 31 * DAY_MS, max: "31d" },
  day: { defaultMs: 30 * DAY_MS, maxMs: 400 * DAY_MS, max: "400d" },
};

const RangeQuery = {
  since: isoInstant.optional().openapi({ description: "Start of the range (default: `until` minus 1h, 24h or 30d for minute, hour or day)" }),
  until: isoInstant.optional().openapi({ description: "End of the range, inclusive (default: now; a bare date includes that whole day, UTC)" }),
  granularity: z
    .enum(["minute", "hour", "day"])
    .default("hour")
    .openapi({ description: "Bucket size of `series`. Longest range: 48h for minute, 31d for hour, 400d for day" }),
};

const count = int64(0);
const latency = int32(0, 2_147_483_647);
const ByStatusSchema = z
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
const RangeSchema = {
  granularity: z.enum(["minute", "hour", "day"]),
  since: timestamp,
  until: timestamp,
  totals: SummarySchema,
  series: z.array(BucketSchema).max(2880).openapi({ description: "Buckets with calls, oldest first (buckets without calls are left out); at most 2880 (48h of minutes)" }),
};

const CallSchema = z
  .object({
    method: z.string().max(16).regex(/^[A-Z]+$/).openapi({ example: "GET" }),
    path: z.string().max(256).openapi({ description: "Request path without the query string (at most 256 characters)", example: "/demo/items" }),
    status: int32(100, 599).openapi({ description: "Status the client received (the origin's, or the gateway's refusal)", example: 200 }),
    latency_ms: latency.openapi({ description: "Gateway receipt to response headers", example: 12 }),
    at: timestamp,
  })
  .openapi("UsageCall");

const KeyUsageSchema = z
  .object({
    key_id: idString("key_8hQ2vN5mXcR1tLp0WzKa"),
    ...RangeSchema,
    recent: z.array(CallSchema).max(100).openapi({
      description: "A sample of the key's latest calls, newest first, whatever the range: at most 100 per key, and at most 20 per gateway isolate per flush interval for a busy key",
    }),
  })
  .openapi("KeyUsage");

const KeyTotalsSchema = z.object({ key_id: idString("key_8hQ2vN5mXcR1tLp0WzKa"), count, by_status: ByStatusSchema }).openapi("KeyUsageTotals");
const OrgUsageSchema = z
  .object({ org_id: idString("org_3kTMd9vW1qXb2LcY8nZp"), ...RangeSchema, keys: z.array(KeyTotalsSchema).max(100).openapi({ description: "One page of per-key totals in the range, busiest first" }) })
  .openapi("OrgUsage");

const DESCRIPTION =
  "Aggregated per key, minute and status class in each gateway isolate and written from the usage queue, so the last seconds of traffic (USAGE_FLUSH_INTERVAL_MS plus the queue's batch timeout) may not be here yet. Minute buckets are kept USAGE_MINUTE_RETENTION (48h), hour and day buckets USAGE_HOUR_RETENTION (400d). Calls refused before the key was verified (401) are not usage; they are aggregated as auth.failed in the audit trail.";

const keyUsageRoute = createRoute({
  operationId: "keyUsage",
  method: "get",
  path: "/orgs/{org_id}/keys/{key_id}/usage",
  tags: ["keys"],
  summary: "A key's totals, time series and recent calls (needs keys:read)",
  description: DESCRIPTION,
  security,
  request: { params: KeyIdParams, query: z.object(RangeQuery) },
  responses: {
    200: jsonResponse(z.object({ data: KeyUsageSchema }), "Totals and series over the range, and the recent sample"),
    ...errorResponses(400, 401, 403, 404),
  },
});

const orgUsageRoute = createRoute({
  operationId: "orgUsage",
  method: "get",
  path: "/orgs/{org_id}/usage",
  tags: ["orgs"],
  summary: "An org's totals, time series and per-key totals (needs keys:read)",
  description: DESCRIPTION,
  security,
  request: { params: OrgIdParam, query: z.object({ ...RangeQuery, ...pageQuery }) },
  responses: {
    200: jsonResponse(z.object({ data: OrgUsageSchema, pagination: PaginationSchema }), "Totals and series over the range, and one page of per-key totals"),
    ...errorResponses(400, 401, 403, 404),
  },
});

const flushRoute = createRoute({
  operationId: "flushUsage",
  method: "post",
  path: "/usage/flush",
  tags: ["usage"],
  summary: "Send this isolate's buffered usage now and wait until it is stored (operator only)",
  description:
    "Usage is aggregated per gateway isolate for USAGE_FLUSH_INTERVAL_MS before it goes through the queue. This sends what the isolate serving this request holds and waits (at most 10 s) until the queue consumer has stored it. `npm start` calls it before stopping, so stopping loses nothing; in production it only drains the one isolate that serves it (harmless, rarely useful).",
  security,
  responses: {
    200: jsonResponse(
      z.object({
        data: z
          .object({
            messages: int32(0, 1_000).openapi({ description: "Queue messages this isolate sent in the last minute, this drain's included" }),
            stored: z.boolean().openapi({ description: "Whether the consumer stored all of them within 10 s" }),
          })
          .openapi("UsageFlush"),
      }),
      "What was sent, and whether it is stored",
    ),
    ...errorResponses(401, 403),
  },
});

/** How long the drain waits for the consumer (the queue's batch timeout is 2 s). */
const FLUSH_WAIT_MS = 10_000;

/** The range a query asks for, or 400 when it is backwards or longer than its granularity allows. */
function rangeOf(orgId: string, query: { since?: string; until?: string; granularity: Granularity }): UsageRange {
  const bounds = GRANULARITY_RANGES[query.granularity];
  const until = query.until === undefined ? Date.now() : instant(query.until, "end");
  const since = query.since === undefined ? until - bounds.defaultMs : instant(query.since);
  if (since > until) throw invalidField("since", "must not be after until");
  if (until - since > bounds.maxMs) throw invalidField("since", `is more than ${bounds.max} before until; the longest ${query.granularity} range is ${bounds.max} (use a coarser granularity)`);
  return { orgId, since, until, granularity: query.granularity };
}

const bucketJson = (bucket: UsageBucket) => ({ ...bucket, start: iso(bucket.start)! });
const rangeJson = (range: UsageRange, result: { totals: UsageSummary; series: UsageBucket[] }) => ({
  granularity: range.granularity,
  since: iso(range.since)!,
  until: iso(range.until)!,
  totals: result.totals,
  series: result.series.map(bucketJson),
});

export function registerUsageRoutes(app: ManagementApp): void {
  app.openapi(flushRoute, async (c) => {
    requireOperator(c.get("caller"));
    const ids = await runtimeFor(c.env).usage.flush();
    const stored = ids.length === 0 || (await appliedWithin(c.env.DB, ids, FLUSH_WAIT_MS));
    return c.json({ data: { messages: ids.length, stored } }, 200);
  });

  app.openapi(keyUsageRoute, async (c) => {
    const { org_id, key_id } = c.req.valid("param");
    authorizeOrg(c.get("caller"), org_id, "keys:read");
    const range = rangeOf(org_id, c.req.valid("query"));
    if (!(await findKey(c.get("db"), org_id, key_id))) throw keyNotFound(key_id);
    const [result, recent] = await Promise.all([usageSeries(c.env.DB, range, key_id), recentCalls(c.env.DB, org_id, key_id)]);
    return c.json({ data: { key_id, ...rangeJson(range, result), recent: recent.map((call) => ({ ...call, at: iso(call.at)! })) } }, 200);
  });

  app.openapi(orgUsageRoute, async (c) => {
    const { org_id } = c.req.valid("param");
    authorizeOrg(c.get("caller"), org_id, "keys:read");
    const query = c.req.valid("query");
    const range = rangeOf(org_id, query);
    if (!(await findOrg(c.get("db"), org_id))) throw orgNotFound(org_id);
    const [result, keys] = await Promise.all([usageSeries(c.env.DB, range, null), perKeyTotals(c.env.DB, range)]);
    const first = (query.page - 1) * query.per_page;
    return c.json(
      {
        data: { org_id, ...rangeJson(range, result), keys: keys.slice(first, first + query.per_page) },
        pagination: { page: query.page, per_page: query.per_page, total: keys.length },
      },
      200,
    );
  });
}
