// Suspending and restoring a key is announced like any key change (SPEC §10 webhooks, README "Suspending a key"):
// key.disabled and key.enabled, once each, with the audit row's id; a repeat writes and announces nothing.
import { describe, expect, it } from "vitest";
import { adminFetch, createKey, createOrg } from "../harness";
import { expectJson } from "../management/support";
import { delivered, deliveriesFor } from "../webhooks/support";

const patch = (orgId: string, keyId: string, json: unknown) => adminFetch(`/orgs/${orgId}/keys/${keyId}`, { method: "PATCH", json });

describe("suspension events", () => {
  it("disable and enable are each delivered once as key.disabled / key.enabled, matching the audit trail", async () => {
    const { id: orgId } = await createOrg();
    const { id: keyId } = await createKey(orgId, { name: "browser app" });
    expect((await patch(orgId, keyId, { enabled: false })).status).toBe(200);
    expect((await patch(orgId, keyId, { enabled: false })).status).toBe(200); // a repeat changes nothing
    expect((await patch(orgId, keyId, { enabled: true })).status).toBe(200);

    await delivered(orgId, 3);
    const got = (await deliveriesFor(orgId)).filter((d) => d.status < 300);
    expect(got.map((d) => d.body!.type).sort()).toEqual(["key.created", "key.disabled", "key.enabled"]);
    const byType = Object.fromEntries(got.map((d) => [d.body!.type, d]));
    expect(byType["key.disabled"]!.body!.data).toMatchObject({ org_id: orgId, key_id: keyId, actor: "operator" });
    expect(byType["key.enabled"]!.body!.data).toMatchObject({ org_id: orgId, key_id: keyId, actor: "operator" });
    const audit = await expectJson<{ data: { id: string; action: string }[] }>(await adminFetch(`/orgs/${orgId}/audit?per_page=100`), 200);
    const ids = Object.fromEntries(audit.data.map((e) => [e.action, e.id]));
    expect(byType["key.disabled"]!.id).toBe(ids["key.disabled"]);
    expect(byType["key.enabled"]!.id).toBe(ids["key.enabled"]);
  });
});
