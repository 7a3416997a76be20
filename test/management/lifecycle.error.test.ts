import { describe, expect, it } from "vitest";
import { adminFetch, createKey, createOrg } from "../harness";
import { expectError, expectJson, fields, setKeyColumns } from "./support";

const rotate = (orgId: string, keyId: string, json?: unknown) => adminFetch(`/orgs/${orgId}/keys/${keyId}/rotate`, { method: "POST", json });

describe("revoke and rotate: errors", () => {
  it("answers 404 for unknown keys", async () => {
    const { id } = await createOrg();
    await expectError(await adminFetch(`/orgs/${id}/keys/key_doesnotexist000000/revoke`, { method: "POST" }), 404, "not_found");
    await expectError(await rotate(id, "key_doesnotexist000000"), 404, "not_found");
    await expectError(await adminFetch(`/orgs/org_doesnotexist000000/keys/key_doesnotexist000000/revoke`, { method: "POST" }), 404, "not_found");
  });

  it("answers 409 conflict for rotating a revoked key", async () => {
    const { id } = await createOrg();
    const { id: keyId } = await createKey(id);
    await adminFetch(`/orgs/${id}/keys/${keyId}/revoke`, { method: "POST" });
    const body = await expectError(await rotate(id, keyId), 409, "conflict");
    expect(body.error.message).toContain("revoked");
  });

  it("answers 409 conflict for rotating an expired key", async () => {
    const { id } = await createOrg();
    const { id: keyId } = await createKey(id, { expires_in: "30d" });
    await setKeyColumns(keyId, { expires_at: Date.now() - 1000 });
    const body = await expectError(await rotate(id, keyId), 409, "conflict");
    expect(body.error.message).toContain("expired");
  });

  it("answers 409 conflict for rotating a key a second time (it already has a successor)", async () => {
    const { id } = await createOrg();
    const { id: keyId } = await createKey(id);
    const { data } = await expectJson<{ data: { id: string } }>(await rotate(id, keyId, { grace_period: "1h" }), 201);
    const body = await expectError(await rotate(id, keyId, { grace_period: "1h" }), 409, "conflict");
    expect(body.error.message).toContain(data.id);
  });

  it("concurrent rotations of one key produce exactly one successor", async () => {
    const { id } = await createOrg();
    const { id: keyId } = await createKey(id);
    const results = await Promise.all(Array.from({ length: 4 }, () => rotate(id, keyId, { grace_period: "1h" })));
    expect(results.filter((r) => r.status === 201)).toHaveLength(1);
    for (const r of results.filter((r) => r.status !== 201)) await expectError(r, 409, "conflict");
  });

  it("rejects a grace period outside 0s..7d or not a duration", async () => {
    const { id } = await createOrg();
    const { id: keyId } = await createKey(id);
    for (const grace_period of ["8d", "soon", "-1s", "", 3600]) {
      expect(fields(await expectError(await rotate(id, keyId, { grace_period }), 400, "validation_error"))).toEqual(["grace_period"]);
    }
    expect(fields(await expectError(await rotate(id, keyId, { grace: "1h" }), 400, "validation_error"))).toEqual(["grace"]);
    await expectJson(await rotate(id, keyId, { grace_period: "7d" }), 201);
  });

  it("answers 400 invalid_json for a malformed rotate body", async () => {
    const { id } = await createOrg();
    const { id: keyId } = await createKey(id);
    await expectError(await adminFetch(`/orgs/${id}/keys/${keyId}/rotate`, { method: "POST", headers: { "content-type": "application/json" }, body: "{grace" }), 400, "invalid_json");
  });

  it("answers 405 for GET on an action route", async () => {
    const { id } = await createOrg();
    const { id: keyId } = await createKey(id);
    const res = await adminFetch(`/orgs/${id}/keys/${keyId}/revoke`);
    await expectError(res, 405, "method_not_allowed");
    expect(res.headers.get("allow")).toBe("POST");
  });
});
