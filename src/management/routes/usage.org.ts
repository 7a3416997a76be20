import { createRoute, z } from "@hono/zod-openapi";
import { findOrg } from "../../store/orgs";
import { perKeyTotals, usageSeries } from "../../store/usage";
import { authorizeOrg, orgNotFound } from "../authorize";
import type { ManagementApp } from "../context";
import { errorResponses, idString, jsonResponse, OrgIdParam, PaginationSchema, pageQuery, security } from "../schemas";
import { ByStatusSchema, count, RangeQuery, RangeSchema, rangeJson, rangeOf, USAGE_DESCRIPTION } from "../usage";

const KeyTotalsSchema = z.object({ key_id: idString("key_8hQ2vN5mXcR1tLp0WzKa"), count, by_status: ByStatusSchema }).openapi("KeyUsageTotals");
const OrgUsageSchema = z
  .object({ org_id: idString("org_3kTMd9vW1qXb2LcY8nZp"), ...RangeSchema, keys: z.array(KeyTotalsSchema).max(100).openapi({ description: "One page of per-key totals in the range, busiest first" }) })
  .openapi("OrgUsage");

const orgUsageRoute = createRoute({
  operationId: "orgUsage",
  method: "get",
  path: "/orgs/{org_id}/usage",
  tags: ["orgs"],
  summary: "An org's totals, time series and per-key totals (needs keys:read)",
  description: USAGE_DESCRIPTION,
  security,
  request: { params: OrgIdParam, query: z.object({ ...RangeQuery, ...pageQuery }) },
  responses: {
    200: jsonResponse(z.object({ data: OrgUsageSchema, pagination: PaginationSchema }), "Totals and series over the range, and one page of per-key totals"),
    ...errorResponses(400, 401, 403, 404),
  },
});

export function registerOrgUsage(app: ManagementApp): void {
  app.openapi(orgUsageRoute, async (c) => {
    const { org_id } = c.req.valid("param");
    authorizeOrg(c.get("caller"), org_id, "keys:read");
    const query = c.req.valid("query");
    const range = rangeOf(org_id, query);
    if (!(await findOrg(c.get("services").db, org_id))) throw orgNotFound(org_id);
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
