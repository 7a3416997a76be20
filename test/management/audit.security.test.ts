import { describe, expect, it } from "vitest";
import { adminFetch, createKey, createOrg, gatewayFetch, keyFetch } from "../harness";
import { expectError, expiredKey, orgPath, revokedKey } from "./support";

describe("audit: security", () => {
  it("answers 404 for another org's trail", async () => {
    const mine = await createOrg();
    const theirs = await createOrg();
    const { key } = await createKey(mine.id, { scopes: ["admin"] });
    await expectError(await keyFetch(key, orgPath(theirs.id, "/audit")), 404, "not_found");
  });

  it("answers 403 insufficient_scope without audit:read", async () => {
    const { id } = await createOrg();
    const { key } = await createKey(id, { scopes: ["keys:read", "keys:write", "demo:read"] });
    const body = await expectError(await keyFetch(key, orgPath(id, "/audit")), 403, "insufficient_scope");
    expect(body.error.details).toEqual([{ field: "scopes", message: "requires audit:read" }]);
  });

  it("refuses revoked and expired caller keys", async () => {
    const { id } = await createOrg();
    await expectError(await keyFetch((await revokedKey(id, { scopes: ["audit:read"] })).key, orgPath(id, "/audit")), 401, "key_revoked");
    await expectError(await keyFetch((await expiredKey(id, { scopes: ["audit:read"] })).key, orgPath(id, "/audit")), 401, "key_expired");
  });

  it("refuses requests without credentials", async () => {
    const { id } = await createOrg();
    await expectError(await gatewayFetch(orgPath(id, "/audit")), 401, "missing_credentials");
  });

  it("never records a key, a hash or the operator token in details", async () => {
    const { id } = await createOrg();
    const { id: keyId, key } = await createKey(id, { scopes: ["demo:read"] });
    await adminFetch(`/orgs/${id}/keys/${keyId}/rotate`, { method: "POST", json: { grace_period: "1m" } });
    const text = await (await adminFetch(`/orgs/${id}/audit`)).text();
    expect(text).not.toContain(key);
    expect(text).not.toMatch(/kg_[0-9A-Za-z]{49}/);
    expect(text).not.toMatch(/[0-9a-f]{64}/);
    expect(text).not.toContain("test-admin-token");
  });
});
