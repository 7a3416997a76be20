import { describe, expect, it } from "vitest";
import { adminFetch, createKey, createOrg, keyFetch, MANAGEMENT } from "../harness";
import { securityTests } from "../management/security";
import { expectError } from "../management/support";

securityTests({ method: "GET", path: "/orgs/{org_id}/keys/{key_id}/usage", allows: "keys:read" });
securityTests({ method: "GET", path: "/orgs/{org_id}/usage", allows: "keys:read" });
securityTests({ method: "POST", path: "/usage/flush", allows: "operator" });

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
});

