import { createRoute, z } from "@hono/zod-openapi";
import { findKey, findSuccessor } from "../../store/keys";
import { assertCanManage, authorizeOrg } from "../authorize";
import { retryOnStale, STALE } from "../concurrency";
import { actorOf, type ManagementApp } from "../context";
import { keyNotFound } from "../keys";
import { KeySchema, presentKey } from "../representations";
import { revokeKeys } from "../revocation";
import { dataOf, errorResponses, jsonRequest, jsonResponse, KeyIdParams, security } from "../schemas";

/**
 * No body, or an empty JSON object: revoking takes no options. A field is refused like on every other
 * route, so a client that sends `{"reason": ...}` learns it was not recorded instead of assuming it was.
 */
const RevokeKeyBody = z.strictObject({}).openapi("RevokeKey");

const revokeKeyRoute = createRoute({
  operationId: "revokeKey",
  method: "post",
  path: "/orgs/{org_id}/keys/{key_id}/revoke",
  tags: ["keys"],
  summary: "Revoke a key (needs keys:write): immediate, permanent, idempotent",
  description: [
    "Revoking a revoked key answers 200 with the original revoked_at and writes no second audit event.",
    "An org key may not revoke a key holding a scope it lacks (403 insufficient_scope).",
    "409 conflict only if the key kept changing concurrently through every retry.",
  ].join(" "),
  security,
  request: { params: KeyIdParams, body: jsonRequest(RevokeKeyBody, false) },
  responses: { 200: jsonResponse(dataOf(KeySchema), "The revoked key"), ...errorResponses(401, 403, 404, 409, 413, 415) },
});

export function registerRevokeKey(app: ManagementApp): void {
  app.openapi(revokeKeyRoute, async (c) => {
    const caller = c.get("caller");
    const { org_id, key_id } = c.req.valid("param");
    authorizeOrg(caller, org_id, "keys:write");
    const { db, revocation } = c.get("services");
    return retryOnStale(`key ${key_id}`, async () => {
      const [row, successor] = await Promise.all([findKey(db, org_id, key_id), findSuccessor(db, org_id, key_id)]);
      const rotatedTo = successor?.id ?? null;
      if (!row) throw keyNotFound(key_id);
      assertCanManage(caller, row);
      const now = Date.now();
      // Idempotent: a revoked key is only purged again (revokeKeys purges on every call).
      const { stale } = await revokeKeys(revocation, [{ row }], actorOf(caller), now);
      // Changed meanwhile (updated, rotated or revoked by someone else): read it again.
      if (stale.has(row.id)) return STALE;
      return c.json({ data: presentKey(row.revokedAt === null ? { ...row, revokedAt: now, updatedAt: now } : row, now, rotatedTo) }, 200);
    });
  });
}
