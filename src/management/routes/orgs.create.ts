import { createRoute, z } from "@hono/zod-openapi";
import { newId } from "../../keys/ids";
import { recordAudit } from "../../store/audit";
import { insertOrg, type OrgRow } from "../../store/orgs";
import { requireOperator } from "../authorize";
import { actorOf, type ManagementApp } from "../context";
import { assertTier, MaxActiveKeys, OrgName, Tier } from "../orgs";
import { OrgSchema, presentOrg } from "../representations";
import { dataOf, errorResponses, jsonRequest, jsonResponse, security } from "../schemas";

const CreateOrgBody = z.strictObject({ name: OrgName, tier: Tier, max_active_keys: MaxActiveKeys.optional() }).openapi("CreateOrg");


const createOrgRoute = createRoute({
  operationId: "createOrg",
  method: "post",
  path: "/orgs",
  tags: ["orgs"],
  summary: "Create an org (operator only)",
  description: "The tier must be one of the configured TIERS; max_active_keys defaults to 25.",
  security,
  request: { body: jsonRequest(CreateOrgBody) },
  responses: { 201: jsonResponse(dataOf(OrgSchema), "The new org"), ...errorResponses(400, 401, 403, 413, 415) },
});

export function registerCreateOrg(app: ManagementApp): void {
  app.openapi(createOrgRoute, async (c) => {
    const caller = c.get("caller");
    requireOperator(caller);
    const body = c.req.valid("json");
    const { config, db } = c.get("services");
    assertTier(config, body.tier);
    const now = Date.now();
    const org: OrgRow = { id: newId("org"), name: body.name, tier: body.tier, maxActiveKeys: body.max_active_keys ?? 25, createdAt: now, updatedAt: now };
    await db.batch([
      insertOrg(db, org),
      recordAudit(db, { orgId: org.id, action: "org.created", actor: actorOf(caller), details: { name: org.name, tier: org.tier, max_active_keys: org.maxActiveKeys } }, now),
    ]);
    return c.json({ data: presentOrg(org) }, 201);
  });

}
