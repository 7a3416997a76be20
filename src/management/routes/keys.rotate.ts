import { createRoute, z } from "@hono/zod-openapi";
import { and } from "drizzle-orm";
import { parseDuration } from "../../duration";
import { KeygateError } from "../../errors";
import { newId } from "../../keys/ids";
import { recordAuditIf } from "../../store/audit";
import { changedRows } from "../../store/conditional";
import {
  expireKeyAt,
  findKey,
  findSuccessor,
  insertKeyIf,
  keyExists,
  type KeyRow,
  keyStatus,
  revokeKeyWhen,
  rotatable,
  underKeyLimit,
} from "../../store/keys";
import { findOrg } from "../../store/orgs";
import { eventOf } from "../../webhooks/events";
import { assertCanGrant, assertCanManage, authorizeOrg, orgNotFound } from "../authorize";
import { retryOnStale, STALE } from "../concurrency";
import { actorOf, type ManagementApp } from "../context";
import { tellLimiterKeyEnded } from "../limiter_notice";
import { assertExpiryPolicy, durationText, expiryFields, expiryOf, keyLimitReached, keyNotFound, keySettings, mintKey, refineExpiry } from "../keys";
import { CreatedKeySchema, presentKey } from "../representations";
import { assertCanRestrict } from "../restrictions";
import { storedEntries } from "../../restrictions/ip_allowlist";
import { dataOf, errorResponses, iso, jsonRequest, jsonResponse, KeyIdParams, security } from "../schemas";

const MAX_GRACE_MS = 7 * 86_400_000;

const RotateKeyBody = z
  .strictObject({
    grace_period: durationText(0, MAX_GRACE_MS, "1h")
      .optional()
      .openapi({ description: 'How long the old key keeps working, "0s" to "7d". Default "0s": the old key is revoked at once.' }),
    ...expiryFields,
  })
  .superRefine(refineExpiry)
  .openapi("RotateKey");

const rotateKeyRoute = createRoute({
  operationId: "rotateKey",
  method: "post",
  path: "/orgs/{org_id}/keys/{key_id}/rotate",
  tags: ["keys"],
  summary: "Rotate a key (needs keys:write): a new key with the same name, scopes, limits and meta",
  description: [
    "The new key gets every setting of the old key as it is when the rotation commits (a concurrent PATCH is either carried over or refused),",
    "and the old key's lifetime (expires_at - created_at) counted from now, capped at 100 years, or no expiry if the old key had none, unless expires_in or expires_at is given;",
    "a new key outside the operator's expiry policy (REQUIRE_KEY_EXPIRY, MAX_KEY_LIFETIME) is refused 400 with the rule named: give expires_in.",
    "An org key may not rotate a key holding a scope it lacks (403 insufficient_scope), nor, if it has allowed_ips itself, a key whose allowed_ips are not inside its own (403 forbidden).",
    "The old key is revoked now (grace_period 0s, the default) or expires at the end of the grace period, never later than it would have.",
    "Only an active (or disabled) key that has not been rotated before can be rotated (409 conflict otherwise); the new key is enabled and keeps allowed_ips.",
    "With an immediate revoke the active-key count does not grow, so the limit never refuses it; with a grace period",
    "the old key is left out of the count, so an org at its limit may hold one extra key until the grace period ends.",
  ].join(" "),
  security,
  request: { params: KeyIdParams, body: jsonRequest(RotateKeyBody, false) },
  responses: {
    201: jsonResponse(dataOf(CreatedKeySchema), "The new key, with `key` shown this once"),
    ...errorResponses(400, 401, 403, 404, 409, 413, 415),
  },
});

function notRotatable(row: KeyRow, successor: KeyRow | null, now: number): KeygateError | null {
  const status = keyStatus(row, now);
  // A disabled key may be rotated: suspend, then hand out a replacement, is how a suspected leak ends.
  if (status !== "active" && status !== "disabled") return new KeygateError("conflict", `key ${row.id} is ${status}; only an active or disabled key can be rotated`);
  if (successor) return new KeygateError("conflict", `key ${row.id} was already rotated to ${successor.id}`);
  return null;
}

export function registerRotateKey(app: ManagementApp): void {
  app.openapi(rotateKeyRoute, async (c) => {
    const caller = c.get("caller");
    const { org_id, key_id } = c.req.valid("param");
    authorizeOrg(caller, org_id, "keys:write");
    const body = c.req.valid("json");
    const gracePeriod = body.grace_period ?? "0s";
    const graceMs = parseDuration(gracePeriod)!;
    const services = c.get("services");
    const { db, config } = services;
    return retryOnStale(`key ${key_id}`, async () => {
      const old = await findKey(db, org_id, key_id);
      if (!old) throw keyNotFound(key_id);
      assertCanManage(caller, old);
      const now = Date.now();
      const refusal = notRotatable(old, await findSuccessor(db, org_id, key_id), now);
      if (refusal) throw refusal;
      // The new key carries the old key's scopes: rotating must not hand a caller scopes it lacks.
      assertCanGrant(caller, old.scopes);
      // Nor an allowlist wider than its own: a restricted key could otherwise mint a key usable from anywhere.
      assertCanRestrict(caller, null, storedEntries(old.allowedIps));

      // Every setting of the old key is copied as read at `old.version`; the insert below only
      // happens if the old key is still at that version, so a concurrent PATCH is either carried
      // over (it committed first: we retry with a fresh read) or refused (it comes second: the
      // old key is revoked, or its version moved on).
      const { id: _id, hash: _hash, identifier: _identifier, last4: _last4, createdAt: _createdAt, updatedAt: _updatedAt, revokedAt: _revokedAt, lastUsedAt: _lastUsedAt, version: _version, disabledAt: _disabledAt, ...settings } = old;
      // The old key's lifetime, counted from now, unless the body sets a new expiry; either must meet today's policy.
      // The new key is enabled even if the old one was disabled: rotating is how a suspension ends.
      const lifetime = old.expiresAt === null ? null : old.expiresAt - old.createdAt;
      const expiresAt = body.expires_in !== undefined || body.expires_at !== undefined ? expiryOf(body, now) : lifetime === null ? null : now + lifetime;
      assertExpiryPolicy(config, body, expiresAt, now);
      const { key, row } = await mintKey(config, { ...settings, expiresAt, rotatedFrom: old.id, limiterId: old.limiterId ?? old.id }, now);
      const oldExpiresAt = graceMs === 0 ? null : Math.min(old.expiresAt ?? Number.MAX_SAFE_INTEGER, now + graceMs);
      const canRotate = graceMs === 0 ? rotatable(db, org_id, old.id, now, old.version) : and(rotatable(db, org_id, old.id, now, old.version), underKeyLimit(db, org_id, now, old.id))!;
      const written = keyExists(db, row.id);
      const actor = actorOf(caller);
      const rotated = {
        id: newId("evt"),
        orgId: org_id,
        action: "key.rotated" as const,
        actor,
        keyId: old.id,
        details: { rotated_to: row.id, grace_period: gracePeriod, old_key_revoked_at: oldExpiresAt === null ? iso(now) : null, old_key_expires_at: iso(oldExpiresAt) },
      };
      const created = { id: newId("evt"), orgId: org_id, action: "key.created" as const, actor, keyId: row.id, details: keySettings(row) };
      const [inserted] = await db.batch([
        insertKeyIf(db, row, canRotate),
        oldExpiresAt === null ? revokeKeyWhen(db, old.id, now, written) : expireKeyAt(db, old.id, oldExpiresAt, now, written),
        recordAuditIf(db, rotated, now, written),
        recordAuditIf(db, created, now, written),
      ]);
      if (changedRows(inserted) === 0) {
        // Lost a race (revoked, rotated or changed meanwhile) or the limit refused the grace-period overlap.
        const current = await findKey(db, org_id, key_id);
        const raced = current && notRotatable(current, await findSuccessor(db, org_id, key_id), now);
        if (raced) throw raced;
        if (current && current.version !== old.version) return STALE;
        const org = await findOrg(db, org_id);
        if (!org) throw orgNotFound(org_id);
        throw keyLimitReached(org_id, org.maxActiveKeys);
      }
      await services.keyCache.purge([old.hash, row.hash]);
      await tellLimiterKeyEnded(services, old, oldExpiresAt === null ? { reason: "revoked", at: now } : { reason: "expired", at: oldExpiresAt });
      await services.publish([eventOf(rotated, now), eventOf(created, now)]);
      c.header("Cache-Control", "no-store");
      return c.json({ data: { ...presentKey(row, now, null), key } }, 201);
    });
  });
}
