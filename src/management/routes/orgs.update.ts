import { createRoute, z } from "@hono/zod-openapi";
import { recordAudit } from "../../store/audit";
import { liveKeys } from "../../store/keys";
import { findOrg, type OrgRow, updateOrg } from "../../store/orgs";
import { orgNotFound, requireOperator } from "../authorize";
import { actorOf, type ManagementApp } from "../context";
import { tellLimiterTierChanged } from "../limiter_notice";
import { assertTier, MaxActiveKeys, OrgName, Tier } from "../orgs";
import { OrgSchema, presentOrg } from "../representations";
import { dataOf, errorResponses, jsonRequest, jsonResponse, OrgIdParam, security } from "../schemas";

const UpdateOrgBody = z
  .strictObject({ name: OrgName.optional(), tier: Tier.optional(), max_active_keys: MaxActiveKeys.optional() })
  .refine((body) => Object.keys(body).length > 0, { message: "give at least one of name, tier, max_active_keys", when: (payload) => payload.issues.length === 0 })
  .openapi("UpdateOrg");

const updateOrgRoute = createRoute({
  operationId: "updateOrg",
  method: "patch",
  path: "/orgs/{org_id}",
  tags: ["orgs"],
  summary: "Change an org's name, tier or key limit (operator only)",
  description: "A tier change takes effect on the next request: every cached key record of the org is purged, and (Durable Object backend) every key's limiter object is told, so a request elsewhere holding a record with the old tier rereads it.",
  security,
  request: { params: OrgIdParam, body: jsonRequest(UpdateOrgBody) },
  responses: { 200: jsonResponse(dataOf(OrgSchema), "The updated org"), ...errorResponses(400, 401, 403, 404, 413, 415) },
});

export function registerUpdateOrg(app: ManagementApp): void {
  app.openapi(updateOrgRoute, async (c) => {
    const caller = c.get("caller");
    requireOperator(caller);
    const { org_id } = c.req.valid("param");
    const body = c.req.valid("json");
    const services = c.get("services");
    const { config, db } = services;
    if (body.tier !== undefined) assertTier(config, body.tier);
    const org = await findOrg(db, org_id);
    if (!org) throw orgNotFound(org_id);

    const next = { name: body.name ?? org.name, tier: body.tier ?? org.tier, maxActiveKeys: body.max_active_keys ?? org.maxActiveKeys };
    const changes = changedFields(org, next);
    if (Object.keys(changes).length === 0) return c.json({ data: presentOrg(org) }, 200);

    const now = Date.now();
    // Only the fields this request changes: writing back the others as read would undo a concurrent
    // PATCH of them (a rename and a tier change sent together lost one of the two).
    const written = Object.fromEntries((Object.keys(API_FIELD) as (keyof typeof API_FIELD)[]).filter((field) => next[field] !== org[field]).map((field) => [field, next[field]]));
    await db.batch([
      updateOrg(db, org_id, written, now),
      recordAudit(db, { orgId: org_id, action: "org.updated", actor: actorOf(caller), details: { changes } }, now),
    ]);
    // Cached key records carry the org's tier: drop them so the next request reads the new one, here
    // at once; elsewhere the limiter tells requests holding a record with the old tier to reread it.
    if (next.tier !== org.tier) {
      const keys = await liveKeys(db, org_id);
      await services.keyCache.purge(keys.map((k) => k.hash));
      await tellLimiterTierChanged(services, org.tier, keys, now);
    }
    return c.json({ data: presentOrg({ ...org, ...next, updatedAt: now }) }, 200);
  });
}

const API_FIELD = { name: "name", tier: "tier", maxActiveKeys: "max_active_keys" } as const;

/** `{ tier: { from: "free", to: "pro" } }` for the audit trail. */
function changedFields(before: OrgRow, after: Pick<OrgRow, "name" | "tier" | "maxActiveKeys">): Record<string, { from: unknown; to: unknown }> {
  const changes: Record<string, { from: unknown; to: unknown }> = {};
  for (const field of Object.keys(API_FIELD) as (keyof typeof API_FIELD)[]) {
    if (before[field] !== after[field]) changes[API_FIELD[field]] = { from: before[field], to: after[field] };
  }
  return changes;
}
