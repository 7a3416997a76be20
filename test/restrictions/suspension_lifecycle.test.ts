// Suspension (enabled: false) against the rest of a key's life: rotation with and without a grace period, expiry.
import { describe, expect, it } from "vitest";
import { adminFetch, createKey, createOrg, type KeyJson, keyFetch } from "../harness";
import { expectError, expectJson, setKeyColumns } from "../management/support";

const patch = (orgId: string, keyId: string, json: unknown) => adminFetch(`/orgs/${orgId}/keys/${keyId}`, { method: "PATCH", json });
const rotate = async (orgId: string, keyId: string, json: unknown) => expectJson<{ data: KeyJson & { key: string } }>(await adminFetch(`/orgs/${orgId}/keys/${keyId}/rotate`, { method: "POST", json }), 201);
const read = async (orgId: string, keyId: string) => (await expectJson<{ data: KeyJson }>(await adminFetch(`/orgs/${orgId}/keys/${keyId}`), 200)).data;

describe("suspension and the key's lifecycle", () => {
  it("a suspended key rotated with a grace period stays suspended for the grace period; its successor works", async () => {
    const { id } = await createOrg();
    const old = await createKey(id);
    expect((await patch(id, old.id, { enabled: false })).status).toBe(200);
    const next = await rotate(id, old.id, { grace_period: "1h" });
    expect(next.data.status).toBe("active");
    await expectError(await keyFetch(old.key, "/demo/x"), 401, "key_disabled");
    expect((await keyFetch(next.data.key, "/demo/x")).status).toBe(200);
    const after = await read(id, old.id);
    expect(after.status).toBe("disabled");
    expect(after.expires_at).not.toBeNull();
  });

  it("the old key of a rotation can be suspended during its grace period, without touching its successor", async () => {
    const { id } = await createOrg();
    const old = await createKey(id);
    const next = await rotate(id, old.id, { grace_period: "1h" });
    expect((await keyFetch(old.key, "/demo/x")).status).toBe(200);
    expect((await patch(id, old.id, { enabled: false })).status).toBe(200);
    await expectError(await keyFetch(old.key, "/demo/x"), 401, "key_disabled");
    expect((await keyFetch(next.data.key, "/demo/x")).status).toBe(200);
    expect((await read(id, next.data.id)).status).toBe("active");
  });

  it("a suspended key that expires is expired (expiry is final and wins): status expired, 401 key_expired, not listed as disabled", async () => {
    const { id } = await createOrg();
    const created = await createKey(id, { expires_in: "30d" });
    expect((await patch(id, created.id, { enabled: false })).status).toBe(200);
    await setKeyColumns(created.id, { expires_at: Date.now() - 60_000 });
    // The PATCH purged the caches; nothing has looked the key up since, so D1's expired record answers.
    await expectError(await keyFetch(created.key, "/demo/x"), 401, "key_expired");
    expect((await read(id, created.id)).status).toBe("expired");
    const listed = await expectJson<{ data: KeyJson[] }>(await adminFetch(`/orgs/${id}/keys?status=disabled`), 200);
    expect(listed.data.map((k) => k.id)).not.toContain(created.id);
  });
});
