import { describe, expect, it } from "vitest";
import { adminFetch, createKey, createOrg } from "../harness";
import { securityTests } from "./security";

securityTests({ method: "GET", path: "/orgs/{org_id}/audit", allows: "audit:read" });

describe("audit: security", () => {
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
