import { describe, expect, it } from "vitest";
import { hashKey } from "../../src/keys/hash";
import { adminFetch, createKey, createOrg, gatewayFetch, keyFetch } from "../harness";
import { expectError, expiredKey, orgPath, revokedKey } from "./support";

const newKeyBody = { name: "k", scopes: ["demo:read"] };

/** Every keys endpoint of `orgId`, as [method, path, body]. */
function keyEndpoints(orgId: string, keyId: string) {
  return [
    ["GET", orgPath(orgId, "/keys"), undefined],
    ["POST", orgPath(orgId, "/keys"), newKeyBody],
    ["GET", orgPath(orgId, `/keys/${keyId}`), undefined],
    ["PATCH", orgPath(orgId, `/keys/${keyId}`), { name: "hijacked" }],
  ] as const;
}

describe("keys: security", () => {
  it("answers 404 for another org's keys, whatever the caller key's scopes", async () => {
    const mine = await createOrg();
    const theirs = await createOrg();
    const { key } = await createKey(mine.id, { scopes: ["admin"] });
    const target = await createKey(theirs.id);
    for (const [method, path, json] of keyEndpoints(theirs.id, target.id)) {
      await expectError(await keyFetch(key, path, { method, json }), 404, "not_found");
    }
    // Their key, addressed through my org, is just as invisible.
    await expectError(await keyFetch(key, orgPath(mine.id, `/keys/${target.id}`)), 404, "not_found");
    const untouched = await (await adminFetch(`/orgs/${theirs.id}/keys/${target.id}`)).json<{ data: { name: string } }>();
    expect(untouched.data.name).toBe("test key");
  });

  it("answers 403 insufficient_scope naming the missing scope", async () => {
    const { id } = await createOrg();
    const target = await createKey(id);
    const reader = await createKey(id, { scopes: ["keys:read"] });
    const writer = await createKey(id, { scopes: ["keys:write"] });
    const neither = await createKey(id, { scopes: ["demo:read", "audit:read"] });
    const expectMissing = async (key: string, [method, path, json]: readonly [string, string, unknown], scope: string) => {
      const body = await expectError(await keyFetch(key, path, { method, json }), 403, "insufficient_scope");
      expect(body.error.details).toEqual([{ field: "scopes", message: `requires ${scope}` }]);
    };
    const [list, create, read, update] = keyEndpoints(id, target.id);
    await expectMissing(reader.key, create, "keys:write");
    await expectMissing(reader.key, update, "keys:write");
    await expectMissing(writer.key, list, "keys:read");
    await expectMissing(writer.key, read, "keys:read");
    for (const endpoint of [list, read]) await expectMissing(neither.key, endpoint, "keys:read");
    for (const endpoint of [create, update]) await expectMissing(neither.key, endpoint, "keys:write");
  });

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

  it("refuses a revoked caller key with 401 key_revoked on every keys endpoint", async () => {
    const { id } = await createOrg();
    const target = await createKey(id);
    const { key } = await revokedKey(id, { scopes: ["admin"] });
    for (const [method, path, json] of keyEndpoints(id, target.id)) await expectError(await keyFetch(key, path, { method, json }), 401, "key_revoked");
  });

  it("refuses an expired caller key with 401 key_expired on every keys endpoint", async () => {
    const { id } = await createOrg();
    const target = await createKey(id);
    const { key } = await expiredKey(id, { scopes: ["admin"] });
    for (const [method, path, json] of keyEndpoints(id, target.id)) await expectError(await keyFetch(key, path, { method, json }), 401, "key_expired");
  });

  it("refuses requests without credentials with 401 missing_credentials", async () => {
    const { id } = await createOrg();
    const target = await createKey(id);
    for (const [method, path, json] of keyEndpoints(id, target.id)) {
      const res = await gatewayFetch(path, { method, json });
      await expectError(res, 401, "missing_credentials");
      expect(res.headers.get("www-authenticate")).toBe('Bearer realm="keygate"');
    }
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
