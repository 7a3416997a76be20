import { describe, expect, it } from "vitest";
import { adminFetch, createKey, createOrg, keyFetch, MANAGEMENT } from "../harness";
import { expectError } from "../management/support";

const usagePath = (orgId: string, keyId: string) => `${MANAGEMENT}/orgs/${orgId}/keys/${keyId}/usage`;

describe("GET /orgs/{org_id}/keys/{key_id}/usage security", () => {
  it("another org's key answers 404, exactly like a key that does not exist", async () => {
    const mine = await createOrg();
    const theirs = await createOrg();
    const reader = await createKey(mine.id, { scopes: ["admin"] });
    const target = await createKey(theirs.id);
    const other = await expectError(await keyFetch(reader.key, usagePath(theirs.id, target.id)), 404, "not_found");
    const missing = await expectError(await keyFetch(reader.key, usagePath(theirs.id, "key_doesnotexist000000")), 404, "not_found");
    expect(other.error.code).toBe(missing.error.code);
  });

  it("a key id from another org under the caller's own org id is 404", async () => {
    const mine = await createOrg();
    const theirs = await createOrg();
    const reader = await createKey(mine.id, { scopes: ["keys:read"] });
    const target = await createKey(theirs.id);
    await expectError(await keyFetch(reader.key, usagePath(mine.id, target.id)), 404, "not_found");
    // Not even the operator finds it under the wrong org.
    await expectError(await adminFetch(`/orgs/${mine.id}/keys/${target.id}/usage`), 404, "not_found");
  });

  it("a key without keys:read is 403 insufficient_scope", async () => {
    const org = await createOrg();
    const caller = await createKey(org.id, { scopes: ["demo:read", "audit:read"] });
    const target = await createKey(org.id);
    await expectError(await keyFetch(caller.key, usagePath(org.id, target.id)), 403, "insufficient_scope");
  });

  it("a revoked caller is 401 key_revoked", async () => {
    const org = await createOrg();
    const caller = await createKey(org.id, { scopes: ["keys:read"] });
    await adminFetch(`/orgs/${org.id}/keys/${caller.id}/revoke`, { method: "POST" });
    await expectError(await keyFetch(caller.key, usagePath(org.id, caller.id)), 401, "key_revoked");
  });

  it("a wrong operator token is 401", async () => {
    const org = await createOrg();
    const target = await createKey(org.id);
    const res = await keyFetch("not-the-admin-token-0123456789", usagePath(org.id, target.id));
    expect(res.status).toBe(401);
  });
});

describe("GET /orgs/{org_id}/usage security", () => {
  it("another org's usage answers 404 to an org key, like an org that does not exist", async () => {
    const mine = await createOrg();
    const theirs = await createOrg();
    const reader = await createKey(mine.id, { scopes: ["admin"] });
    await expectError(await keyFetch(reader.key, `${MANAGEMENT}/orgs/${theirs.id}/usage`), 404, "not_found");
    await expectError(await keyFetch(reader.key, `${MANAGEMENT}/orgs/org_doesnotexist000000/usage`), 404, "not_found");
  });

  it("a key without keys:read is 403 insufficient_scope; no credentials is 401", async () => {
    const org = await createOrg();
    const caller = await createKey(org.id, { scopes: ["audit:read"] });
    await expectError(await keyFetch(caller.key, `${MANAGEMENT}/orgs/${org.id}/usage`), 403, "insufficient_scope");
    const res = await keyFetch("not-the-admin-token-0123456789", `${MANAGEMENT}/orgs/${org.id}/usage`);
    expect(res.status).toBe(401);
  });
});

describe("POST /usage/flush security", () => {
  it("is for the operator only: an org admin key is 403 forbidden, no credentials 401", async () => {
    const org = await createOrg();
    const admin = await createKey(org.id, { scopes: ["admin"] });
    await expectError(await keyFetch(admin.key, `${MANAGEMENT}/usage/flush`, { method: "POST" }), 403, "forbidden");
    const res = await keyFetch("not-the-admin-token-0123456789", `${MANAGEMENT}/usage/flush`, { method: "POST" });
    expect(res.status).toBe(401);
  });
});

