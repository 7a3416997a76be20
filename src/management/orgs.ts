import { createRoute, z } from "@hono/zod-openapi";
import type { Config } from "../config";
import { newId } from "../keys/ids";
import { recordAudit } from "../store/audit";
import { liveKeyHashes } from "../store/keys";
import { findOrg, insertOrg, listOrgs, type OrgRow, updateOrg } from "../store/orgs";
import { authorizeOrg, orgNotFound, requireOperator } from "./auth";
import { actorOf, keyCacheOf, type ManagementApp } from "./context";
import { OrgSchema, presentOrg } from "./representations";
import { dataOf, errorResponses, int32, jsonRequest, jsonResponse, OrgIdParam, pageOf, pageQuery, parseSort, security, sortQuery } from "./schemas";
import { invalidField } from "./validation";

const name = z.string().trim().min(1).max(100).openapi({ example: "Acme Corp" });
const tier = z.string().min(1).max(32).openapi({ description: "One of the tiers in the TIERS config", example: "free" });
const maxActiveKeys = int32(1, 10_000).openapi({ description: "Active-key limit for the org (default 25)" });

const CreateOrgBody = z.strictObject({ name, tier, max_active_keys: maxActiveKeys.optional() }).openapi("CreateOrg");

const UpdateOrgBody = z
  .strictObject({ name: name.optional(), tier: tier.optional(), max_active_keys: maxActiveKeys.optional() })
  .refine((body) => Object.keys(body).length > 0, { message: "give at least one of name, tier, max_active_keys", when: (payload) => payload.issues.length === 0 })
  .openapi("UpdateOrg");

const ListOrgsQuery = z.object({
  ...pageQuery,
  sort: sortQuery(["created_at", "-created_at", "name", "-name", "tier", "-tier"], "-created_at"),
  name: z.string().min(1).max(100).optional().openapi({ description: "Case-insensitive substring of the name" }),
  tier: z.string().min(1).max(32).optional().openapi({ description: "Exact tier" }),
});

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

const updateOrgRoute = createRoute({
  operationId: "updateOrg",
  method: "patch",
  path: "/orgs/{org_id}",
  tags: ["orgs"],
  summary: "Change an org's name, tier or key limit (operator only)",
  description: "A tier change takes effect on the next request: every cached key record of the org is purged.",
  security,
  request: { params: OrgIdParam, body: jsonRequest(UpdateOrgBody) },
  responses: { 200: jsonResponse(dataOf(OrgSchema), "The updated org"), ...errorResponses(400, 401, 403, 404, 413, 415) },
});

function assertTier(config: Config, value: string): void {
  if (!Object.hasOwn(config.tiers, value)) throw invalidField("tier", `must be one of: ${Object.keys(config.tiers).join(", ")}`);
}

export function registerOrgRoutes(app: ManagementApp): void {
  app.openapi(createOrgRoute, async (c) => {
    const caller = c.get("caller");
    requireOperator(caller);
    const body = c.req.valid("json");
    assertTier(c.get("config"), body.tier);
    const now = Date.now();
    const org: OrgRow = { id: newId("org"), name: body.name, tier: body.tier, maxActiveKeys: body.max_active_keys ?? 25, createdAt: now, updatedAt: now };
    const db = c.get("db");
    await db.batch([
      insertOrg(db, org),
      recordAudit(db, { orgId: org.id, action: "org.created", actor: actorOf(caller), details: { name: org.name, tier: org.tier, max_active_keys: org.maxActiveKeys } }, now),
    ]);
    return c.json({ data: presentOrg(org) }, 201);
  });

  app.openapi(listOrgsRoute, async (c) => {
    requireOperator(c.get("caller"));
    const query = c.req.valid("query");
    const { rows, total } = await listOrgs(c.get("db"), { name: query.name, tier: query.tier }, parseSort(query.sort), { page: query.page, perPage: query.per_page });
    return c.json({ data: rows.map(presentOrg), pagination: { page: query.page, per_page: query.per_page, total } }, 200);
  });

  app.openapi(getOrgRoute, async (c) => {
    const { org_id } = c.req.valid("param");
    authorizeOrg(c.get("caller"), org_id, "any");
    const org = await findOrg(c.get("db"), org_id);
    if (!org) throw orgNotFound(org_id);
    return c.json({ data: presentOrg(org) }, 200);
  });

  app.openapi(updateOrgRoute, async (c) => {
    const caller = c.get("caller");
    requireOperator(caller);
    const { org_id } = c.req.valid("param");
    const body = c.req.valid("json");
    if (body.tier !== undefined) assertTier(c.get("config"), body.tier);
    const db = c.get("db");
    const org = await findOrg(db, org_id);
    if (!org) throw orgNotFound(org_id);

    const next = { name: body.name ?? org.name, tier: body.tier ?? org.tier, maxActiveKeys: body.max_active_keys ?? org.maxActiveKeys };
    const changes = changedFields(org, next);
    if (Object.keys(changes).length === 0) return c.json({ data: presentOrg(org) }, 200);

    const now = Date.now();
    await db.batch([
      updateOrg(db, org_id, next, now),
      recordAudit(db, { orgId: org_id, action: "org.updated", actor: actorOf(caller), details: { changes } }, now),
    ]);
    // Cached key records carry the org's tier: drop them so the next request reads the new one.
    if (next.tier !== org.tier) await keyCacheOf(c).purge(await liveKeyHashes(db, org_id));
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
