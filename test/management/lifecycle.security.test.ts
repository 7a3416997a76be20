import { describe, expect, it } from "vitest";
import { adminFetch, createKey, createOrg, gatewayFetch, keyFetch } from "../harness";
import { expectError, expiredKey, orgPath, revokedKey } from "./support";

const actions = (orgId: string, keyId: string) => [orgPath(orgId, `/keys/${keyId}/revoke`), orgPath(orgId, `/keys/${keyId}/rotate`)];

describe("revoke and rotate: security", () => {
  it("answers 404 for another org's key and leaves it untouched", async () => {
    const mine = await createOrg();
    const theirs = await createOrg();
    const { key } = await createKey(mine.id, { scopes: ["admin"] });
    const target = await createKey(theirs.id);
    for (const path of [...actions(theirs.id, target.id), ...actions(mine.id, target.id)]) {
      await expectError(await keyFetch(key, path, { method: "POST" }), 404, "not_found");
    }
    expect((await keyFetch(target.key, "/demo/still-works")).status).toBe(200);
  });

  it("answers 403 insufficient_scope without keys:write", async () => {
    const { id } = await createOrg();
    const target = await createKey(id);
    const { key } = await createKey(id, { scopes: ["keys:read", "audit:read", "demo:read"] });
    for (const path of actions(id, target.id)) {
      const body = await expectError(await keyFetch(key, path, { method: "POST" }), 403, "insufficient_scope");
      expect(body.error.details).toEqual([{ field: "scopes", message: "requires keys:write" }]);
    }
  });

  it("a keys:write key cannot rotate a key with scopes it lacks (that would hand it those scopes)", async () => {
    const { id } = await createOrg();
    const writer = await createKey(id, { scopes: ["keys:write"] });
    const admin = await createKey(id, { scopes: ["admin"] });
    await expectError(await keyFetch(writer.key, orgPath(id, `/keys/${admin.id}/rotate`), { method: "POST" }), 403, "insufficient_scope");
    const stillActive = await (await adminFetch(`/orgs/${id}/keys/${admin.id}`)).json<{ data: { status: string } }>();
    expect(stillActive.data.status).toBe("active");
  });

  it("refuses a revoked caller key with 401 key_revoked", async () => {
    const { id } = await createOrg();
    const target = await createKey(id);
    const { key } = await revokedKey(id, { scopes: ["admin"] });
    for (const path of actions(id, target.id)) await expectError(await keyFetch(key, path, { method: "POST" }), 401, "key_revoked");
  });

  it("refuses an expired caller key with 401 key_expired", async () => {
    const { id } = await createOrg();
    const target = await createKey(id);
    const { key } = await expiredKey(id, { scopes: ["admin"] });
    for (const path of actions(id, target.id)) await expectError(await keyFetch(key, path, { method: "POST" }), 401, "key_expired");
  });

  it("refuses requests without credentials with 401", async () => {
    const { id } = await createOrg();
    const target = await createKey(id);
    for (const path of actions(id, target.id)) await expectError(await gatewayFetch(path, { method: "POST" }), 401, "missing_credentials");
  });
});
