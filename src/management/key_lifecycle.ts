import { createRoute, z } from "@hono/zod-openapi";
import { and } from "drizzle-orm";
import { parseDuration } from "../duration";
import { KeygateError } from "../errors";
import { recordAuditIf } from "../store/audit";
import { changedRows } from "../store/conditional";
import {
  expireKeyAt,
  findKey,
  findSuccessor,
  insertKeyIf,
  keyExists,
  type KeyRow,
  keyStatus,
  revokedAtExactly,
  revokeKeyOnce,
  revokeKeyWhen,
  rotatable,
  underKeyLimit,
} from "../store/keys";
import { findOrg } from "../store/orgs";
import { assertCanGrant, authorizeOrg, orgNotFound } from "./auth";
import { actorOf, keyCacheOf, type ManagementApp } from "./context";
import { assertExpiryPolicy, durationText, expiryFields, expiryOf, keyLimitReached, keyNotFound, keySettings, mintKey, refineExpiry } from "./keys";
import { CreatedKeySchema, KeySchema, presentKey } from "./representations";
import { dataOf, errorResponses, iso, jsonRequest, jsonResponse, KeyIdParams, security } from "./schemas";

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

const revokeKeyRoute = createRoute({
  method: "post",
  path: "/orgs/{org_id}/keys/{key_id}/revoke",
  tags: ["keys"],
  summary: "Revoke a key (needs keys:write): immediate, permanent, idempotent",
  description: "Revoking a revoked key answers 200 with the original revoked_at and writes no second audit event.",
  security,
  request: { params: KeyIdParams },
  responses: { 200: jsonResponse(dataOf(KeySchema), "The revoked key"), ...errorResponses(401, 403, 404, 413, 415) },
});

const rotateKeyRoute = createRoute({
  method: "post",
  path: "/orgs/{org_id}/keys/{key_id}/rotate",
  tags: ["keys"],
  summary: "Rotate a key (needs keys:write): a new key with the same name, scopes, limits and meta",
  description: [
    "The new key gets the old key's lifetime (expires_at - created_at) counted from now, or no expiry if the old key had none, unless expires_in or expires_at is given;",
    "a new key outside the operator's expiry policy (REQUIRE_KEY_EXPIRY, MAX_KEY_LIFETIME) is refused 400 with the rule named: give expires_in.",
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

export function registerKeyLifecycleRoutes(app: ManagementApp): void {
  app.openapi(revokeKeyRoute, async (c) => {
    const caller = c.get("caller");
    const { org_id, key_id } = c.req.valid("param");
    authorizeOrg(caller, org_id, "keys:write");
    const db = c.get("db");
    const row = await findKey(db, org_id, key_id);
    if (!row) throw keyNotFound(key_id);
    const cache = keyCacheOf(c);
    const now = Date.now();
    if (row.revokedAt === null) {
      await db.batch([
        revokeKeyOnce(db, key_id, now),
        recordAuditIf(db, { orgId: org_id, action: "key.revoked", actor: actorOf(caller), keyId: key_id, details: { name: row.name } }, now, revokedAtExactly(db, key_id, now)),
      ]);
    }
    // Purged on every call, so retrying a revoke whose purge failed finishes the job.
    await cache.purge([row.hash]);
    const current = row.revokedAt === null ? await findKey(db, org_id, key_id) : row;
    return c.json({ data: presentKey(current!, now) }, 200);
  });

  app.openapi(rotateKeyRoute, async (c) => {
    const caller = c.get("caller");
    const { org_id, key_id } = c.req.valid("param");
    authorizeOrg(caller, org_id, "keys:write");
    const body = c.req.valid("json");
    const gracePeriod = body.grace_period ?? "0s";
    const graceMs = parseDuration(gracePeriod)!;
    const db = c.get("db");
    const old = await findKey(db, org_id, key_id);
    if (!old) throw keyNotFound(key_id);
    const now = Date.now();
    const refusal = notRotatable(old, await findSuccessor(db, org_id, key_id), now);
    if (refusal) throw refusal;
    // The new key carries the old key's scopes: rotating must not hand a caller scopes it lacks.
    assertCanGrant(caller, old.scopes);

    // The old key's lifetime, counted from now, unless the body sets a new expiry; either must meet today's policy.
    const lifetime = old.expiresAt === null ? null : old.expiresAt - old.createdAt;
    const expiresAt = body.expires_in !== undefined || body.expires_at !== undefined ? expiryOf(body, now) : lifetime === null ? null : now + lifetime;
    assertExpiryPolicy(c.get("config"), body, expiresAt, now);
    const { key, row } = await mintKey(
      c.get("config"),
      { orgId: org_id, name: old.name, scopes: old.scopes, expiresAt, rateLimit: old.rateLimit, meta: old.meta, rotatedFrom: old.id, allowedIps: old.allowedIps },
      now,
    );
    const oldExpiresAt = graceMs === 0 ? null : Math.min(old.expiresAt ?? Number.MAX_SAFE_INTEGER, now + graceMs);
    const canRotate = graceMs === 0 ? rotatable(db, org_id, old.id, now) : and(rotatable(db, org_id, old.id, now), underKeyLimit(db, org_id, now, old.id))!;
    const written = keyExists(db, row.id);
    const actor = actorOf(caller);
    const [inserted] = await db.batch([
      insertKeyIf(db, row, canRotate),
      oldExpiresAt === null ? revokeKeyWhen(db, old.id, now, written) : expireKeyAt(db, old.id, oldExpiresAt, now, written),
      recordAuditIf(
        db,
        {
          orgId: org_id,
          action: "key.rotated",
          actor,
          keyId: old.id,
          details: { rotated_to: row.id, grace_period: gracePeriod, old_key_revoked_at: oldExpiresAt === null ? iso(now) : null, old_key_expires_at: iso(oldExpiresAt) },
        },
        now,
        written,
      ),
      recordAuditIf(db, { orgId: org_id, action: "key.created", actor, keyId: row.id, details: keySettings(row) }, now, written),
    ]);
    if (changedRows(inserted) === 0) {
      // Lost a race (revoked or rotated meanwhile) or the limit refused the grace-period overlap.
      const current = await findKey(db, org_id, key_id);
      const raced = current && notRotatable(current, await findSuccessor(db, org_id, key_id), now);
      if (raced) throw raced;
      const org = await findOrg(db, org_id);
      if (!org) throw orgNotFound(org_id);
      throw keyLimitReached(org_id, org.maxActiveKeys);
    }
    await keyCacheOf(c).purge([old.hash, row.hash]);
    c.header("Cache-Control", "no-store");
    return c.json({ data: { ...presentKey(row, now), key } }, 201);
  });
}
