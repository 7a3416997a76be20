import { describe, expect, it } from "vitest";
import { parseKey } from "../../src/keys/format";
import { adminFetch, createKey, createOrg, type KeyJson, keyFetch } from "../harness";
import { expectError, expectJson, orgPath, setKeyColumns } from "./support";

interface AuditPage {
  data: { action: string; key_id: string | null; actor: string; details: Record<string, unknown> | null }[];
  pagination: { total: number };
}

const revoke = (orgId: string, keyId: string) => adminFetch(`/orgs/${orgId}/keys/${keyId}/revoke`, { method: "POST" });
const rotate = (orgId: string, keyId: string, json?: unknown) => adminFetch(`/orgs/${orgId}/keys/${keyId}/rotate`, { method: "POST", json });
const readKey = async (orgId: string, keyId: string) => (await expectJson<{ data: KeyJson }>(await adminFetch(`/orgs/${orgId}/keys/${keyId}`), 200)).data;

describe("revoke", () => {
  it("revokes at once: the very next request with the key is refused", async () => {
    const { id } = await createOrg();
    const { id: keyId, key, data } = await createKey(id, { scopes: ["demo:read", "keys:read"] });
    expect((await keyFetch(key, "/demo/warm")).status).toBe(200);
    expect((await keyFetch(key, orgPath(id, "/keys"))).status).toBe(200);
    const before = Date.now();
    const { data: revoked } = await expectJson<{ data: KeyJson }>(await revoke(id, keyId), 200);
    expect(revoked).toEqual({ ...data, status: "revoked", revoked_at: expect.any(String) });
    expect(Date.parse(revoked.revoked_at!)).toBeGreaterThanOrEqual(before);
    await expectError(await keyFetch(key, "/demo/warm"), 401, "key_revoked");
    await expectError(await keyFetch(key, orgPath(id, "/keys")), 401, "key_revoked");
  });

  it("is idempotent: a second revoke answers 200 with the first revoked_at and writes no second audit event", async () => {
    const { id } = await createOrg();
    const { id: keyId } = await createKey(id);
    const first = await expectJson<{ data: KeyJson }>(await revoke(id, keyId), 200);
    const second = await expectJson<{ data: KeyJson }>(await revoke(id, keyId), 200);
    expect(second).toEqual(first);
    const audit = await expectJson<AuditPage>(await adminFetch(`/orgs/${id}/audit?action=key.revoked`), 200);
    expect(audit.pagination.total).toBe(1);
    expect(audit.data[0]).toMatchObject({ action: "key.revoked", key_id: keyId, actor: "operator" });
  });

  it("concurrent revokes agree on one revoked_at and one audit event", async () => {
    const { id } = await createOrg();
    const { id: keyId } = await createKey(id);
    const results = await Promise.all(Array.from({ length: 5 }, () => revoke(id, keyId)));
    const bodies = await Promise.all(results.map((r) => expectJson<{ data: KeyJson }>(r, 200)));
    const stored = await readKey(id, keyId);
    // Requests that read the key before the winner wrote still answer with the stored time.
    for (const body of bodies) expect(body.data.revoked_at).toBe(stored.revoked_at);
    expect((await expectJson<AuditPage>(await adminFetch(`/orgs/${id}/audit?action=key.revoked`), 200)).pagination.total).toBe(1);
  });

  it("is permanent: a revoked key stays revoked and cannot be changed", async () => {
    const { id } = await createOrg();
    const { id: keyId } = await createKey(id);
    await revoke(id, keyId);
    await expectError(await adminFetch(`/orgs/${id}/keys/${keyId}`, { method: "PATCH", json: { name: "back" } }), 409, "conflict");
    await expectError(await rotate(id, keyId), 409, "conflict");
    expect((await readKey(id, keyId)).status).toBe("revoked");
  });

  it("an org key with keys:write may revoke keys of its org whose scopes it holds, including itself", async () => {
    const { id } = await createOrg();
    const writer = await createKey(id, { scopes: ["keys:write", "demo:read"] });
    const other = await createKey(id);
    expect((await keyFetch(writer.key, orgPath(id, `/keys/${other.id}/revoke`), { method: "POST" })).status).toBe(200);
    expect((await keyFetch(writer.key, orgPath(id, `/keys/${writer.id}/revoke`), { method: "POST" })).status).toBe(200);
    await expectError(await keyFetch(writer.key, orgPath(id, `/keys/${other.id}/revoke`), { method: "POST" }), 401, "key_revoked");
  });

  it("accepts an empty JSON body", async () => {
    const { id } = await createOrg();
    const { id: keyId } = await createKey(id);
    const res = await adminFetch(`/orgs/${id}/keys/${keyId}/revoke`, { method: "POST", headers: { "content-type": "application/json" } });
    expect(res.status).toBe(200);
  });
});

describe("rotate", () => {
  it("issues a new key with the same name, scopes, limits and meta, and revokes the old one at once by default", async () => {
    const { id } = await createOrg();
    const old = await createKey(id, { name: "deploy", scopes: ["demo:read", "keys:read"], rate_limit: { limit: 7, window: "30s", mode: "fast" }, meta: { env: "prod" } });
    expect((await keyFetch(old.key, "/demo/warm")).status).toBe(200);
    const res = await rotate(id, old.id);
    const { data } = await expectJson<{ data: KeyJson & { key: string } }>(res, 201);
    expect(res.headers.get("cache-control")).toBe("no-store");
    expect(parseKey(data.key, "kg_").ok).toBe(true);
    expect(data.key).not.toBe(old.key);
    expect(data).toMatchObject({ name: "deploy", scopes: ["demo:read", "keys:read"], rate_limit: { limit: 7, window: "30s", mode: "fast" }, meta: { env: "prod" }, rotated_from: old.id, status: "active", expires_at: null });
    expect(data.id).not.toBe(old.id);
    expect((await readKey(id, old.id)).status).toBe("revoked");
    await expectError(await keyFetch(old.key, "/demo/warm"), 401, "key_revoked");
    expect((await keyFetch(data.key, "/demo/warm")).status).toBe(200);
  });

  it("with a grace period the old key keeps working until it ends", async () => {
    const { id } = await createOrg();
    const old = await createKey(id);
    const before = Date.now();
    const { data } = await expectJson<{ data: KeyJson & { key: string } }>(await rotate(id, old.id, { grace_period: "1h" }), 201);
    const oldNow = await readKey(id, old.id);
    expect(oldNow.status).toBe("active");
    expect(oldNow.revoked_at).toBeNull();
    expect(Date.parse(oldNow.expires_at!)).toBeGreaterThanOrEqual(before + 3_600_000);
    expect(Date.parse(oldNow.expires_at!)).toBeLessThanOrEqual(Date.now() + 3_600_000);
    expect((await keyFetch(old.key, "/demo/x")).status).toBe(200);
    expect((await keyFetch(data.key, "/demo/x")).status).toBe(200);
  });

  it('grace_period "0s" revokes the old key at once', async () => {
    const { id } = await createOrg();
    const old = await createKey(id);
    await expectJson(await rotate(id, old.id, { grace_period: "0s" }), 201);
    expect((await readKey(id, old.id)).status).toBe("revoked");
  });

  it("a grace period never extends the old key's life", async () => {
    const { id } = await createOrg();
    const soon = new Date(Date.now() + 10 * 60_000).toISOString();
    const old = await createKey(id, { expires_at: soon });
    await expectJson(await rotate(id, old.id, { grace_period: "7d" }), 201);
    expect((await readKey(id, old.id)).expires_at).toBe(soon);
  });

  it("the new key gets the old key's lifetime, counted from now", async () => {
    const { id } = await createOrg();
    const old = await createKey(id, { expires_in: "30d" });
    // Pretend the old key was created 20 days ago and has 10 days left.
    const createdAt = Date.now() - 20 * 86_400_000;
    await setKeyColumns(old.id, { created_at: createdAt, expires_at: createdAt + 30 * 86_400_000 });
    const before = Date.now();
    const { data } = await expectJson<{ data: KeyJson }>(await rotate(id, old.id), 201);
    expect(Date.parse(data.expires_at!)).toBeGreaterThanOrEqual(before + 30 * 86_400_000);
    expect(Date.parse(data.expires_at!)).toBeLessThanOrEqual(Date.now() + 30 * 86_400_000);
  });

  it("records key.rotated on the old key and key.created on the new one", async () => {
    const { id } = await createOrg();
    const old = await createKey(id);
    const { data } = await expectJson<{ data: KeyJson }>(await rotate(id, old.id, { grace_period: "15m" }), 201);
    const rotated = await expectJson<AuditPage>(await adminFetch(`/orgs/${id}/audit?action=key.rotated`), 200);
    expect(rotated.data).toEqual([
      expect.objectContaining({ key_id: old.id, actor: "operator", details: expect.objectContaining({ rotated_to: data.id, grace_period: "15m", old_key_revoked_at: null }) }),
    ]);
    const created = await expectJson<AuditPage>(await adminFetch(`/orgs/${id}/audit?action=key.created&key_id=${data.id}`), 200);
    expect(created.data).toEqual([expect.objectContaining({ key_id: data.id, details: expect.objectContaining({ rotated_from: old.id }) })]);
  });

  it("a rotated key points forward: rotated_to names its successor in get, list (even without the successor on the page), PATCH and revoke", async () => {
    const { id } = await createOrg();
    const old = await createKey(id, { name: "to rotate" });
    expect(old.data.rotated_to).toBeNull();
    const { data: next } = await expectJson<{ data: KeyJson }>(await rotate(id, old.id, { grace_period: "1h" }), 201);
    expect(next.rotated_to).toBeNull();
    expect((await readKey(id, old.id)).rotated_to).toBe(next.id);
    expect((await readKey(id, next.id)).rotated_to).toBeNull();
    const list = await expectJson<{ data: KeyJson[] }>(await adminFetch(`/orgs/${id}/keys`), 200);
    expect(Object.fromEntries(list.data.map((key) => [key.id, key.rotated_to]))).toEqual({ [old.id]: next.id, [next.id]: null });
    const patched = await expectJson<{ data: KeyJson }>(await adminFetch(`/orgs/${id}/keys/${old.id}`, { method: "PATCH", json: { name: "to rotate (old)" } }), 200);
    expect(patched.data.rotated_to).toBe(next.id);
    // Only the old key on the page (by name, one per page: "to rotate" then "to rotate (old)"): its successor is found all the same.
    const onePage = await expectJson<{ data: KeyJson[] }>(await adminFetch(`/orgs/${id}/keys?sort=name&per_page=1&page=2`), 200);
    expect(onePage.data.map((key) => [key.id, key.rotated_to])).toEqual([[old.id, next.id]]);
    const revoked = await expectJson<{ data: KeyJson }>(await revoke(id, old.id), 200);
    expect(revoked.data.rotated_to).toBe(next.id);
  });

  it("an org at its key limit can still rotate with an immediate revoke", async () => {
    const { id } = await createOrg({ max_active_keys: 2 });
    const a = await createKey(id);
    await createKey(id);
    await expectJson(await rotate(id, a.id), 201);
  });

  it("an org at its limit may rotate with a grace period once (the old key is not counted), but not overlap a second", async () => {
    const { id } = await createOrg({ max_active_keys: 2 });
    const a = await createKey(id);
    const b = await createKey(id);
    await expectJson(await rotate(id, a.id, { grace_period: "1h" }), 201);
    // Now: a (grace), a' and b are active; rotating b with grace would make a fourth.
    await expectError(await rotate(id, b.id, { grace_period: "1h" }), 409, "key_limit_reached");
    expect((await readKey(id, b.id)).status).toBe("active");
    // An immediate revoke never grows the count.
    await expectJson(await rotate(id, b.id), 201);
  });

  it("an org key with keys:write and the key's scopes may rotate it", async () => {
    const { id } = await createOrg();
    const writer = await createKey(id, { scopes: ["keys:write", "demo:read"] });
    const target = await createKey(id, { scopes: ["demo:read"] });
    expect((await keyFetch(writer.key, orgPath(id, `/keys/${target.id}/rotate`), { method: "POST" })).status).toBe(201);
  });
});
