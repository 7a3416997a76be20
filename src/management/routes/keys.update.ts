import { createRoute, z } from "@hono/zod-openapi";
import { KeygateError } from "../../errors";
import { newId } from "../../keys/ids";
import { recordAuditIf } from "../../store/audit";
import { changedRows } from "../../store/conditional";
import { findKey, findSuccessor, type KeyChanges, type KeyRow, keyUnchanged, updateKey } from "../../store/keys";
import { findOrg } from "../../store/orgs";
import { eventOf } from "../../webhooks/events";
import { assertCanGrant, assertCanManage, authorizeOrg, orgNotFound } from "../authorize";
import { retryOnStale, STALE } from "../concurrency";
import { actorOf, type ManagementApp } from "../context";
import { hasLimitFields, nextKeyLimits, QuotaInput, RateLimitInput, RateLimitsInput } from "../key_limits";
import { catalogueScopes, KeyName, keyNotFound, Meta, Scopes } from "../keys";
import { tellLimiterKeyChanged } from "../limiter_notice";
import { KeySchema, presentKey } from "../representations";
import { AllowedIps, assertCanRestrict, Enabled, storedAllowedIps } from "../restrictions";
import { dataOf, errorResponses, jsonRequest, jsonResponse, KeyIdParams, security } from "../schemas";

const UpdateKeyBody = z
  .strictObject({
    name: KeyName.optional(),
    scopes: Scopes.optional(),
    rate_limit: RateLimitInput.nullable().optional().openapi({ description: "Shorthand for rate_limits with one limit named default; null removes the key's own windows" }),
    rate_limits: RateLimitsInput.nullable().optional().openapi({ description: "Replaces the key's own windows; null removes them (the tier's apply)" }),
    quota: QuotaInput.nullable().optional().openapi({ description: "null removes the key's own quota (the tier's applies)" }),
    meta: Meta.nullable().optional(),
    allowed_ips: AllowedIps.nullable().optional().openapi({ description: "Replaces the list; [] or null: anywhere. An org key may only narrow it." }),
    enabled: Enabled.optional(),
  })
  .refine((body) => Object.keys(body).length > 0, { message: "give at least one of name, scopes, rate_limit, rate_limits, quota, meta, allowed_ips, enabled", when: (payload) => payload.issues.length === 0 })
  .openapi("UpdateKey");

const updateKeyRoute = createRoute({
  operationId: "updateKey",
  method: "patch",
  path: "/orgs/{org_id}/keys/{key_id}",
  tags: ["keys"],
  summary: "Rename a key, change its scopes, rate limit, meta or allowed IPs, or disable/enable it (needs keys:write)",
  description:
    "Takes effect on the next request: the key's cached record is purged. `enabled: false` suspends the key (audited as key.disabled), `enabled: true` restores it (key.enabled). An org key may not change a key holding a scope it lacks (403 insufficient_scope). Concurrent changes are applied one after the other; 409 conflict if the key is revoked meanwhile.",
  security,
  request: { params: KeyIdParams, body: jsonRequest(UpdateKeyBody) },
  responses: { 200: jsonResponse(dataOf(KeySchema), "The updated key"), ...errorResponses(400, 401, 403, 404, 409, 413, 415) },
});

export function registerUpdateKey(app: ManagementApp): void {
  app.openapi(updateKeyRoute, async (c) => {
    const caller = c.get("caller");
    const { org_id, key_id } = c.req.valid("param");
    authorizeOrg(caller, org_id, "keys:write");
    const body = c.req.valid("json");
    const services = c.get("services");
    const { config, db } = services;
    const scopes = body.scopes === undefined ? undefined : catalogueScopes(config, body.scopes);
    if (scopes !== undefined) assertCanGrant(caller, scopes);
    const allowedIps = body.allowed_ips === undefined ? undefined : storedAllowedIps(body.allowed_ips ?? []);
    // Limits are checked against the org's tier (exceeds_tier for org keys) and merged with the key's own.
    const org = hasLimitFields(body) ? await findOrg(db, org_id) : null;
    if (hasLimitFields(body) && !org) throw orgNotFound(org_id);

    // Read, check, write-if-unchanged; a lost race re-reads and re-checks (see concurrency.ts).
    return retryOnStale(`key ${key_id}`, async () => {
      const [row, successor] = await Promise.all([findKey(db, org_id, key_id), findSuccessor(db, org_id, key_id)]);
      const rotatedTo = successor?.id ?? null;
      if (!row) throw keyNotFound(key_id);
      if (row.revokedAt !== null) throw new KeygateError("conflict", `key ${key_id} is revoked; revocation is permanent`);
      assertCanManage(caller, row);
      const next: KeyChanges = {
        ...(body.name !== undefined ? { name: body.name } : {}),
        ...(scopes !== undefined ? { scopes } : {}),
        ...(org ? { rateLimit: nextKeyLimits(config, org.tier, caller, row.rateLimit, body) } : {}),
        ...(body.meta !== undefined ? { meta: body.meta } : {}),
        ...(allowedIps !== undefined ? { allowedIps } : {}),
      };
      if (allowedIps !== undefined) assertCanRestrict(caller, row.allowedIps, allowedIps);
      const changes = keyChanges(row, next);
      const now = Date.now();
      // Suspending is its own event (key.disabled / key.enabled), not a settings change; repeating it changes nothing.
      const toggled = body.enabled !== undefined && body.enabled !== (row.disabledAt === null);
      const written: KeyChanges = toggled ? { ...next, disabledAt: body.enabled ? null : now } : next;
      if (Object.keys(changes).length === 0 && !toggled) return c.json({ data: presentKey(row, now, rotatedTo) }, 200);

      const actor = actorOf(caller);
      const unchanged = keyUnchanged(db, key_id, row.version);
      // The audit inserts come first and have the same condition as the update: all or none.
      const entries = [
        ...(Object.keys(changes).length > 0 ? [{ id: newId("evt"), orgId: org_id, action: "key.updated" as const, actor, keyId: key_id, details: { changes } }] : []),
        ...(toggled ? [{ id: newId("evt"), orgId: org_id, action: body.enabled ? ("key.enabled" as const) : ("key.disabled" as const), actor, keyId: key_id, details: { name: row.name } }] : []),
      ];
      const audits = entries.map((entry) => recordAuditIf(db, entry, now, unchanged));
      const results = await db.batch([...audits, updateKey(db, key_id, written, now, row.version)] as unknown as Parameters<typeof db.batch>[0]);
      if (changedRows(results[results.length - 1]) === 0) return STALE;
      await services.keyCache.purge([row.hash]);
      await tellLimiterKeyChanged(services, row, now);
      await services.publish(entries.map((entry) => eventOf(entry, now)));
      return c.json({ data: presentKey({ ...row, ...written, updatedAt: now }, now, rotatedTo) }, 200);
    });
  });
}

const KEY_API_FIELD = { name: "name", scopes: "scopes", rateLimit: "rate_limit", meta: "meta", allowedIps: "allowed_ips" } as const;

function keyChanges(before: KeyRow, next: KeyChanges): Record<string, { from: unknown; to: unknown }> {
  const changes: Record<string, { from: unknown; to: unknown }> = {};
  for (const field of Object.keys(next) as (keyof typeof KEY_API_FIELD)[]) {
    if (JSON.stringify(before[field]) !== JSON.stringify(next[field])) changes[KEY_API_FIELD[field]] = { from: before[field], to: next[field] };
  }
  return changes;
}
