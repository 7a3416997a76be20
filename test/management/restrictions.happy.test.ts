// allowed_ips and enabled through the management API (issue 14).
import { describe, expect, it } from "vitest";
import { adminFetch, createKey, createOrg, type KeyJson } from "../harness";
import { expectJson } from "./support";

const patch = (orgId: string, keyId: string, json: unknown) => adminFetch(`/orgs/${orgId}/keys/${keyId}`, { method: "PATCH", json });
const keyOf = async (res: Response) => (await expectJson<{ data: KeyJson }>(res, 200)).data;

interface AuditJson {
  action: string;
  key_id: string | null;
  actor: string;
  details: Record<string, unknown> | null;
}
const audit = async (orgId: string, action: string) => (await expectJson<{ data: AuditJson[] }>(await adminFetch(`/orgs/${orgId}/audit?action=${action}`), 200)).data;

describe("allowed_ips", () => {
  it("create stores the list normalised and without duplicates; get shows it", async () => {
    const { id } = await createOrg();
    const created = await createKey(id, { allowed_ips: ["10.0.0.7/8", " 203.0.113.7/32 ", "2001:DB8::/32", "10.0.0.0/8", "::ffff:192.0.2.0/120"] });
    const expected = ["10.0.0.0/8", "203.0.113.7", "2001:db8::/32", "192.0.2.0/24"];
    expect(created.data.allowed_ips).toEqual(expected);
    expect((await keyOf(await adminFetch(`/orgs/${id}/keys/${created.id}`))).allowed_ips).toEqual(expected);
  });

  it("PATCH replaces the list; [] and null both mean anywhere again; the change is audited as key.updated", async () => {
    const { id } = await createOrg();
    const created = await createKey(id, { allowed_ips: ["10.0.0.0/8"] });
    expect((await keyOf(await patch(id, created.id, { allowed_ips: ["192.0.2.1"] }))).allowed_ips).toEqual(["192.0.2.1"]);
    expect((await keyOf(await patch(id, created.id, { allowed_ips: [] }))).allowed_ips).toEqual([]);
    await patch(id, created.id, { allowed_ips: ["192.0.2.1"] });
    expect((await keyOf(await patch(id, created.id, { allowed_ips: null }))).allowed_ips).toEqual([]);
    const updates = await audit(id, "key.updated");
    expect(updates[updates.length - 1]!.details).toEqual({ changes: { allowed_ips: { from: ["10.0.0.0/8"], to: ["192.0.2.1"] } } });
  });

  it("an unchanged list writes no audit event", async () => {
    const { id } = await createOrg();
    const created = await createKey(id, { allowed_ips: ["10.0.0.0/8"] });
    await patch(id, created.id, { allowed_ips: ["10.1.2.3/8"] });
    expect(await audit(id, "key.updated")).toEqual([]);
  });

  it("rotation keeps the allowlist", async () => {
    const { id } = await createOrg();
    const created = await createKey(id, { allowed_ips: ["10.0.0.0/8"] });
    const res = await adminFetch(`/orgs/${id}/keys/${created.id}/rotate`, { method: "POST", json: {} });
    expect((await expectJson<{ data: KeyJson }>(res, 201)).data.allowed_ips).toEqual(["10.0.0.0/8"]);
  });
});

describe("enabled", () => {
  it("PATCH enabled:false shows status disabled with disabled_at; enabled:true restores active; each is audited once", async () => {
    const { id } = await createOrg();
    const created = await createKey(id);
    expect(created.data.enabled).toBe(true);
    const disabled = await keyOf(await patch(id, created.id, { enabled: false }));
    expect(disabled).toMatchObject({ status: "disabled", enabled: false, disabled_at: expect.any(String) });
    // Repeating it is a no-op: same disabled_at, no second event.
    expect((await keyOf(await patch(id, created.id, { enabled: false }))).disabled_at).toBe(disabled.disabled_at);
    const enabled = await keyOf(await patch(id, created.id, { enabled: true }));
    expect(enabled).toMatchObject({ status: "active", enabled: true, disabled_at: null });

    const disables = await audit(id, "key.disabled");
    expect(disables).toEqual([expect.objectContaining({ key_id: created.id, actor: "operator", details: { name: "test key" } })]);
    expect(await audit(id, "key.enabled")).toEqual([expect.objectContaining({ key_id: created.id, actor: "operator" })]);
    // Suspension is not a settings change.
    expect(await audit(id, "key.updated")).toEqual([]);
  });

  it("enabled can be changed together with other fields: both events are written", async () => {
    const { id } = await createOrg();
    const created = await createKey(id);
    const key = await keyOf(await patch(id, created.id, { enabled: false, name: "paused" }));
    expect(key).toMatchObject({ name: "paused", status: "disabled" });
    expect(await audit(id, "key.disabled")).toHaveLength(1);
    expect(await audit(id, "key.updated")).toHaveLength(1);
  });

  it("list filters status=disabled, and status=active leaves disabled keys out", async () => {
    const { id } = await createOrg();
    const on = await createKey(id);
    const off = await createKey(id);
    await patch(id, off.id, { enabled: false });
    const ids = async (status: string) => (await expectJson<{ data: KeyJson[] }>(await adminFetch(`/orgs/${id}/keys?status=${status}`), 200)).data.map((k) => k.id);
    expect(await ids("disabled")).toEqual([off.id]);
    expect(await ids("active")).toEqual([on.id]);
    expect((await ids("active,disabled")).sort()).toEqual([on.id, off.id].sort());
  });

  it("a disabled key still counts towards max_active_keys (enabling it again must not exceed the limit)", async () => {
    const { id } = await createOrg({ max_active_keys: 1 });
    const created = await createKey(id);
    await patch(id, created.id, { enabled: false });
    const res = await adminFetch(`/orgs/${id}/keys`, { json: { name: "second", scopes: ["demo:read"] } });
    expect(res.status).toBe(409);
  });

  it("a disabled key can be rotated: the new key is enabled, the old one is revoked", async () => {
    const { id } = await createOrg();
    const created = await createKey(id);
    await patch(id, created.id, { enabled: false });
    const res = await adminFetch(`/orgs/${id}/keys/${created.id}/rotate`, { method: "POST", json: {} });
    const { data } = await expectJson<{ data: KeyJson }>(res, 201);
    expect(data).toMatchObject({ status: "active", enabled: true, rotated_from: created.id });
    expect((await keyOf(await adminFetch(`/orgs/${id}/keys/${created.id}`))).status).toBe("revoked");
  });
});
