import { createRoute, z } from "@hono/zod-openapi";
import { listOrgs } from "../../store/orgs";
import { requireOperator } from "../authorize";
import type { ManagementApp } from "../context";
import { OrgSchema, presentOrg } from "../representations";
import { errorResponses, jsonResponse, nameFilter, pageOf, pageQuery, parseSort, security, sortQuery } from "../schemas";

const ListOrgsQuery = z.object({
  ...pageQuery,
  sort: sortQuery(["created_at", "-created_at", "name", "-name", "tier", "-tier"], "-created_at"),
  name: nameFilter.optional(),
  tier: z.string().min(1).max(32).optional().openapi({ description: "Exact tier" }),
});

const listOrgsRoute = createRoute({
  operationId: "listOrgs",
  method: "get",
  path: "/orgs",
  tags: ["orgs"],
  summary: "List orgs (operator only)",
  description: "Paged (page, per_page up to 100), sorted by created_at, name or tier, filtered by name substring or exact tier.",
  security,
  request: { query: ListOrgsQuery },
  responses: { 200: jsonResponse(pageOf(OrgSchema), "A page of orgs"), ...errorResponses(400, 401, 403) },
});

export function registerListOrgs(app: ManagementApp): void {
  app.openapi(listOrgsRoute, async (c) => {
    requireOperator(c.get("caller"));
    const query = c.req.valid("query");
    const { rows, total } = await listOrgs(c.get("services").db, { name: query.name, tier: query.tier }, parseSort(query.sort), { page: query.page, perPage: query.per_page });
    return c.json({ data: rows.map(presentOrg), pagination: { page: query.page, per_page: query.per_page, total } }, 200);
  });

}
