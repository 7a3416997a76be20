import { createRoute, z } from "@hono/zod-openapi";
import { newId } from "../../keys/ids";
import { recordAuditIf } from "../../store/audit";
import { changedRows } from "../../store/conditional";
import { insertKeyIf, keyExists, underKeyLimit } from "../../store/keys";
import { findOrg } from "../../store/orgs";
import { eventOf } from "../../webhooks/events";
import { assertCanGrant, authorizeOrg, orgNotFound } from "../authorize";
import { actorOf, type ManagementApp } from "../context";
import { nextKeyLimits, QuotaInput, RateLimitInput, RateLimitsInput } from "../key_limits";
import { assertExpiryPolicy, catalogueScopes, expiryFields, expiryOf, KeyName, keyLimitReached, keySettings, Meta, mintKey, refineExpiry, Scopes } from "../keys";
import { CreatedKeySchema, presentKey } from "../representations";
import { AllowedIps, assertCanRestrict, storedAllowedIps } from "../restrictions";
import { dataOf, errorResponses, jsonRequest, jsonResponse, OrgIdParam, security } from "../schemas";

const CreateKeyBody = z
  .strictObject({
    name: KeyName,
    scopes: Scopes,
    ...expiryFields,
    rate_limit: RateLimitInput.optional().openapi({ description: "Shorthand for rate_limits with one limit named default" }),
    rate_limits: RateLimitsInput.optional(),
    quota: QuotaInput.optional(),
    meta: Meta.optional(),
    allowed_ips: AllowedIps.optional(),
  })
  .superRefine(refineExpiry)
  .openapi("CreateKey");

const createKeyRoute = createRoute({
  operationId: "createKey",
  method: "post",
  path: "/orgs/{org_id}/keys",
  tags: ["keys"],
  summary: "Create a key (needs keys:write); the full key is in this response only",
  description: "Scopes must be in the catalogue (at most 50), and an org key can only grant scopes it holds. Expiry: expires_in or expires_at, at most 100 years ahead. 409 key_limit_reached at the org's max_active_keys.",
  security,
  request: { params: OrgIdParam, body: jsonRequest(CreateKeyBody) },
  responses: {
    201: jsonResponse(dataOf(CreatedKeySchema), "The new key, with `key` shown this once"),
    ...errorResponses(400, 401, 403, 404, 409, 413, 415),
  },
});

export function registerCreateKey(app: ManagementApp): void {
  app.openapi(createKeyRoute, async (c) => {
    const caller = c.get("caller");
    const { org_id } = c.req.valid("param");
    authorizeOrg(caller, org_id, "keys:write");
    const body = c.req.valid("json");
    const services = c.get("services");
    const { config, db } = services;
    const scopes = catalogueScopes(config, body.scopes);
    assertCanGrant(caller, scopes);
    const allowedIps = body.allowed_ips === undefined ? null : storedAllowedIps(body.allowed_ips);
    assertCanRestrict(caller, null, allowedIps);
    const org = await findOrg(db, org_id);
    if (!org) throw orgNotFound(org_id);

    const now = Date.now();
    const expiresAt = expiryOf(body, now);
    assertExpiryPolicy(config, body, expiresAt, now);
    const { key, row } = await mintKey(
      config,
      {
        orgId: org_id,
        name: body.name,
        scopes,
        expiresAt,
        rateLimit: nextKeyLimits(config, org.tier, caller, null, body),
        meta: body.meta ?? null,
        rotatedFrom: null,
        limiterId: null,
        allowedIps,
      },
      now,
    );
    // Limit check and insert are one statement, and the audit row depends on the insert: no race, nothing half-done.
    const created = { id: newId("evt"), orgId: org_id, action: "key.created" as const, actor: actorOf(caller), keyId: row.id, details: keySettings(row) };
    const [inserted] = await db.batch([insertKeyIf(db, row, underKeyLimit(db, org_id, now)), recordAuditIf(db, created, now, keyExists(db, row.id))]);
    if (changedRows(inserted) === 0) throw keyLimitReached(org_id, org.maxActiveKeys);
    // A lookup of this hash may have been cached as "unknown" (negative cache): it must not survive.
    await services.keyCache.purge([row.hash]);
    await services.publish([eventOf(created, now)]);
    c.header("Cache-Control", "no-store");
    return c.json({ data: { ...presentKey(row, now, null), key } }, 201);
  });

}
