import { createRoute } from "@hono/zod-openapi";
import { findOrg } from "../../store/orgs";
import { authorizeOrg, orgNotFound } from "../authorize";
import type { ManagementApp } from "../context";
import { OrgSchema, presentOrg } from "../representations";
import { dataOf, errorResponses, jsonResponse, OrgIdParam, security } from "../schemas";

const getOrgRoute = createRoute({
  operationId: "getOrg",
  method: "get",
  path: "/orgs/{org_id}",
  tags: ["orgs"],
  summary: "Read an org",
  description: "The operator reads any org; an org key with any management scope reads its own.",
  security,
  request: { params: OrgIdParam },
  responses: { 200: jsonResponse(dataOf(OrgSchema), "The org"), ...errorResponses(401, 403, 404) },
});

export function registerGetOrg(app: ManagementApp): void {
  app.openapi(getOrgRoute, async (c) => {
    const { org_id } = c.req.valid("param");
    authorizeOrg(c.get("caller"), org_id, "any");
    const org = await findOrg(c.get("services").db, org_id);
    if (!org) throw orgNotFound(org_id);
    return c.json({ data: presentOrg(org) }, 200);
  });

}
