// An org key calling the management API is checked against D1, not a cached record: a revoked or
// suspended admin key must not keep minting, widening or revoking keys at a location whose cache has
// not seen the change yet (the gateway's cache bound is for traffic, not for managing keys).
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { createKey, createOrg, keyFetch } from "../harness";
import { expectError, expectJson, orgPath } from "../management/support";

/** A change made where this isolate's caches cannot see it (another location's revoke, as far as they know). */
async function behindTheCache(keyId: string, column: "revoked_at" | "disabled_at" | "expires_at"): Promise<void> {
  await env.DB.prepare(`UPDATE api_keys SET ${column} = ? WHERE id = ?`).bind(Date.now() - 1000, keyId).run();
}

describe("an org key on the management API", () => {
  it.each([
    ["revoked", "revoked_at", "key_revoked"],
    ["disabled", "disabled_at", "key_disabled"],
    ["expired", "expires_at", "key_expired"],
  ] as const)("is refused the moment it is %s, whatever the caches still hold", async (_state, column, code) => {
    const { id: orgId } = await createOrg();
    const admin = await createKey(orgId, { scopes: ["admin"] });
    // Warm: the record is now in isolate memory and KV.
    await expectJson(await keyFetch(admin.key, orgPath(orgId, "/keys")), 200);
    expect((await keyFetch(admin.key, "/demo/items")).status).toBe(200);

    await behindTheCache(admin.id, column);
    await expectError(await keyFetch(admin.key, orgPath(orgId, "/keys"), { json: { name: "backdoor", scopes: ["admin"] } }), 401, code);
    await expectError(await keyFetch(admin.key, orgPath(orgId, "/keys")), 401, code);
  });

  it("sees a scope change made elsewhere at once", async () => {
    const { id: orgId } = await createOrg();
    const admin = await createKey(orgId, { scopes: ["admin"] });
    await expectJson(await keyFetch(admin.key, orgPath(orgId, "/keys")), 200);
    await env.DB.prepare("UPDATE api_keys SET scopes = ? WHERE id = ?").bind(JSON.stringify(["keys:read"]), admin.id).run();
    await expectError(await keyFetch(admin.key, orgPath(orgId, "/keys"), { json: { name: "backdoor", scopes: ["admin"] } }), 403, "insufficient_scope");
  });
});
