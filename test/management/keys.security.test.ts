import { describe, expect, it } from "vitest";
import { hashKey } from "../../src/keys/hash";
import { adminFetch, createKey, createOrg, keyFetch } from "../harness";
import { securityTests } from "./security";
import { expectError, orgPath } from "./support";

securityTests({ method: "POST", path: "/orgs/{org_id}/keys", body: { name: "k", scopes: ["demo:read"] }, allows: "keys:write" });
securityTests({ method: "GET", path: "/orgs/{org_id}/keys", allows: "keys:read" });
securityTests({ method: "GET", path: "/orgs/{org_id}/keys/{key_id}", allows: "keys:read" });
securityTests({ method: "PATCH", path: "/orgs/{org_id}/keys/{key_id}", body: { name: "hijacked" }, allows: "keys:write" });
securityTests({ method: "GET", path: "/orgs/{org_id}/keys/{key_id}/limits", allows: "keys:read" });

describe("keys: security", () => {
  it("a key cannot grant scopes it does not hold (no escalation to admin)", async () => {
    const { id } = await createOrg();
    const writer = await createKey(id, { scopes: ["keys:write", "demo:read"] });
    const body = await expectError(await keyFetch(writer.key, orgPath(id, "/keys"), { json: { name: "escalate", scopes: ["demo:read", "admin"] } }), 403, "insufficient_scope");
    expect(body.error.details).toEqual([{ field: "scopes[1]", message: "the calling key does not hold admin" }]);
    const target = await createKey(id);
    await expectError(await keyFetch(writer.key, orgPath(id, `/keys/${target.id}`), { method: "PATCH", json: { scopes: ["demo:write"] } }), 403, "insufficient_scope");
  });

  it("an admin key may grant any scope in its own org", async () => {
    const { id } = await createOrg();
    const admin = await createKey(id, { scopes: ["admin"] });
    expect((await keyFetch(admin.key, orgPath(id, "/keys"), { json: { name: "k", scopes: ["demo:write", "keys:write"] } })).status).toBe(201);
  });

  it("never returns a full key or its hash after creation: not in read, list or audit", async () => {
    const { id } = await createOrg();
    const created = await createKey(id, { scopes: ["demo:read", "keys:read"] });
    await adminFetch(`/orgs/${id}/keys/${created.id}`, { method: "PATCH", json: { name: "renamed" } });
    await adminFetch(`/orgs/${id}/keys/${created.id}/rotate`, { method: "POST" });
    const hash = await hashKey(created.key);
    for (const path of [`/orgs/${id}/keys/${created.id}`, `/orgs/${id}/keys`, `/orgs/${id}/keys?status=revoked`, `/orgs/${id}/audit`]) {
      const text = await (await adminFetch(path)).text();
      expect(text).not.toContain(created.key);
      expect(text).not.toContain(created.key.slice(11, -4));
      expect(text).not.toContain(hash);
    }
  });
});
