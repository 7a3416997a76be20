import { createRoute, z } from "@hono/zod-openapi";
import { findKey } from "../store/keys";
import { usageForKey } from "../store/usage";
import { authorizeOrg } from "./auth";
import type { ManagementApp } from "./context";
import { keyNotFound } from "./keys";
import { errorResponses, idString, instant, int32, int64, iso, isoInstant, jsonResponse, KeyIdParams, PaginationSchema, pageQuery, security, timestamp } from "./schemas";

const UsageQuery = z.object({
  ...pageQuery,
  since: isoInstant.optional().openapi({ description: "Calls at or after this date/time" }),
  until: isoInstant.optional().openapi({ description: "Calls at or before this date/time (a bare date includes that whole day, UTC)" }),
});

const CallSchema = z
  .object({
    method: z.string().max(16).regex(/^[A-Z]+$/).openapi({ example: "GET" }),
    path: z.string().max(256).openapi({ description: "Request path without the query string (at most 256 characters)", example: "/demo/items" }),
    status: int32(100, 599).openapi({ description: "Status the client received (the origin's, or the gateway's refusal)", example: 200 }),
    latency_ms: int32(0, 2_147_483_647).openapi({ description: "Gateway receipt to response headers", example: 12 }),
    at: timestamp,
  })
  .openapi("UsageCall");

const count = int64(0);
const KeyUsageSchema = z
  .object({
    key_id: idString("key_8hQ2vN5mXcR1tLp0WzKa"),
    counts: z.object({ "2xx": count, "3xx": count, "4xx": count, "5xx": count }).openapi({ description: "Calls in the range by status class" }),
    total: count.openapi({ description: "Calls in the range" }),
    recent: z.array(CallSchema).max(100).openapi({ description: "One page of calls in the range, newest first" }),
  })
  .openapi("KeyUsage");

const keyUsageRoute = createRoute({
  operationId: "keyUsage",
  method: "get",
  path: "/orgs/{org_id}/keys/{key_id}/usage",
  tags: ["keys"],
  summary: "A key's calls and counts by status class (needs keys:read)",
  description:
    "Written from the usage queue in batches, so the last few seconds of traffic may not be here yet. Calls refused before the key was verified (401) are not usage; they are aggregated as auth.failed in the audit trail.",
  security,
  request: { params: KeyIdParams, query: UsageQuery },
  responses: {
    200: jsonResponse(z.object({ data: KeyUsageSchema, pagination: PaginationSchema }), "Counts, and one page of recent calls"),
    ...errorResponses(400, 401, 403, 404),
  },
});

export function registerUsageRoutes(app: ManagementApp): void {
  app.openapi(keyUsageRoute, async (c) => {
    const { org_id, key_id } = c.req.valid("param");
    authorizeOrg(c.get("caller"), org_id, "keys:read");
    const query = c.req.valid("query");
    const db = c.get("db");
    if (!(await findKey(db, org_id, key_id))) throw keyNotFound(key_id);
    const usage = await usageForKey(db, {
      keyId: key_id,
      orgId: org_id,
      since: query.since === undefined ? undefined : instant(query.since),
      until: query.until === undefined ? undefined : instant(query.until, "end"),
      page: query.page,
      perPage: query.per_page,
    });
    return c.json(
      {
        data: { key_id, counts: usage.counts, total: usage.total, recent: usage.recent.map((call) => ({ ...call, at: iso(call.at)! })) },
        pagination: { page: query.page, per_page: query.per_page, total: usage.total },
      },
      200,
    );
  });
}
