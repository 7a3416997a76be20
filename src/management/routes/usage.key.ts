import { createRoute, z } from "@hono/zod-openapi";
import { findKey } from "../../store/keys";
import { recentCalls, usageSeries } from "../../store/usage";
import { authorizeOrg } from "../authorize";
import type { ManagementApp } from "../context";
import { keyNotFound } from "../keys";
import { errorResponses, idString, int32, iso, jsonResponse, KeyIdParams, security, timestamp } from "../schemas";
import { latency, RangeQuery, RangeSchema, rangeJson, rangeOf, USAGE_DESCRIPTION } from "../usage";

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
      description: "The key's latest calls, newest first, whatever the range: at most 100. A key served by several gateway isolates at once shows the latest 100 each of them sent, which may leave out calls in between",
    }),
  })
  .openapi("KeyUsage");

const keyUsageRoute = createRoute({
  operationId: "keyUsage",
  method: "get",
  path: "/orgs/{org_id}/keys/{key_id}/usage",
  tags: ["keys"],
  summary: "A key's totals, time series and recent calls (needs keys:read)",
  description: USAGE_DESCRIPTION,
  security,
  request: { params: KeyIdParams, query: z.object(RangeQuery) },
  responses: {
    200: jsonResponse(z.object({ data: KeyUsageSchema }), "Totals and series over the range, and the recent sample"),
    ...errorResponses(400, 401, 403, 404),
  },
});

export function registerKeyUsage(app: ManagementApp): void {
  app.openapi(keyUsageRoute, async (c) => {
    const { org_id, key_id } = c.req.valid("param");
    authorizeOrg(c.get("caller"), org_id, "keys:read");
    const range = rangeOf(org_id, c.req.valid("query"));
    if (!(await findKey(c.get("services").db, org_id, key_id))) throw keyNotFound(key_id);
    const [result, recent] = await Promise.all([usageSeries(c.env.DB, range, key_id), recentCalls(c.env.DB, org_id, key_id)]);
    return c.json({ data: { key_id, ...rangeJson(range, result), recent: recent.map((call) => ({ ...call, at: iso(call.at)! })) } }, 200);
  });

}
