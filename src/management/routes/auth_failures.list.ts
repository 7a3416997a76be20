import { createRoute, z } from "@hono/zod-openapi";
import { listAuthFailures } from "../../store/auth_failures";
import { requireOperator } from "../authorize";
import type { ManagementApp } from "../context";
import { errorResponses, int64, iso, isoInstant, jsonResponse, PaginationSchema, pageQuery, security, timeFilter, timestamp } from "../schemas";

// Failed-auth visibility for the operator (issue 16): failures that belong to no org (unknown,
// malformed or missing keys, bad operator tokens) are aggregated per source, reason and hour by the
// usage consumer; this is the API that shows them. Failures of known keys are in their org's audit
// trail (auth.failed) instead.

const AuthFailureBucketSchema = z
  .object({
    hour: timestamp.openapi({ description: "Start of the UTC hour the failures fall in" }),
    source: z.string().max(64).openapi({ description: "Client address (CF-Connecting-IP), or unknown", example: "198.51.100.7" }),
    reason: z.string().max(64).openapi({ description: "The error code the client got", example: "invalid_key" }),
    count: int64(1).openapi({ description: "Failures in this bucket" }),
    first_seen_at: timestamp,
    last_seen_at: timestamp,
  })
  .openapi("AuthFailureBucket");

const AuthFailuresSchema = z
  .object({
    totals: z
      .object({
        failures: int64(0).openapi({ description: "Sum of count over every bucket matching the filters" }),
        buckets: int64(0),
        sources: int64(0).openapi({ description: "Distinct sources among them" }),
      })
      .openapi({ description: "Over every matching bucket, not only this page" }),
    buckets: z.array(AuthFailureBucketSchema).max(100),
  })
  .openapi("AuthFailures");

const ListAuthFailuresQuery = z.object({
  ...pageQuery,
  source: z.string().min(1).max(64).optional().openapi({ description: "Exact client address" }),
  reason: z.string().min(1).max(64).regex(/^[a-z_]+$/, "must be an error code like invalid_key").optional().openapi({ description: "Exact reason (error code)", example: "malformed_key" }),
  since: isoInstant.optional().openapi({ description: "Buckets with a failure at or after this date/time" }),
  until: isoInstant.optional().openapi({ description: "Buckets with a failure at or before this date/time (a bare date includes that whole day, UTC)" }),
});

const listAuthFailuresRoute = createRoute({
  method: "get",
  path: "/auth-failures",
  tags: ["audit"],
  operationId: "listAuthFailures",
  summary: "Failed authentications no org owns, per source, reason and hour (operator only)",
  description: "Unknown, malformed and missing keys and bad operator tokens, aggregated per source, reason and UTC hour; newest hour first, the busiest bucket first within an hour.",
  security,
  request: { query: ListAuthFailuresQuery },
  responses: {
    200: jsonResponse(z.object({ data: AuthFailuresSchema, pagination: PaginationSchema }), "A page of buckets, with totals"),
    ...errorResponses(400, 401, 403),
  },
});

export function registerListAuthFailures(app: ManagementApp): void {
  app.openapi(listAuthFailuresRoute, async (c) => {
    requireOperator(c.get("caller"));
    const query = c.req.valid("query");
    const filters = {
      source: query.source,
      reason: query.reason,
      ...timeFilter(query),
    };
    const { rows, buckets, failures, sources } = await listAuthFailures(c.get("services").db, filters, { page: query.page, perPage: query.per_page });
    return c.json(
      {
        data: {
          totals: { failures, buckets, sources },
          buckets: rows.map((row) => ({ hour: iso(row.hour)!, source: row.source, reason: row.reason, count: row.count, first_seen_at: iso(row.firstSeenAt)!, last_seen_at: iso(row.lastSeenAt)! })),
        },
        pagination: { page: query.page, per_page: query.per_page, total: buckets },
      },
      200,
    );
  });
}
