// A key with allowed_ips can only hand out keys inside its own list (README "Restricting keys"): rotating
// hands out a key too, so it is held to the same rule as create.
import { describe, expect, it } from "vitest";
import { adminFetch, createKey, createOrg, type KeyJson, keyFetch } from "../harness";
import { expectError, expectJson, orgPath } from "../management/support";

const HOME = "203.0.113.7";
const rotate = (key: string, orgId: string, keyId: string, json: unknown = {}) => keyFetch(key, orgPath(orgId, `/keys/${keyId}/rotate`), { method: "POST", json, headers: { "cf-connecting-ip": HOME } });

describe("allowed_ips: rotation by a restricted org key", () => {
  it("cannot mint a key usable outside its own list by rotating an unrestricted or wider key: 403 forbidden, nothing changes", async () => {
    const { id } = await createOrg();
    const writer = await createKey(id, { scopes: ["admin"], allowed_ips: ["203.0.113.0/24"] });
    for (const allowed_ips of [undefined, ["198.51.100.0/24"], ["203.0.0.0/16"]]) {
      const target = await createKey(id, allowed_ips ? { allowed_ips } : {});
      for (const grace_period of ["0s", "1h"]) {
        const body = await expectError(await rotate(writer.key, id, target.id, { grace_period }), 403, "forbidden");
        expect(body.error.details?.[0]?.field).toBe("allowed_ips");
      }
      const after = await expectJson<{ data: KeyJson }>(await adminFetch(`/orgs/${id}/keys/${target.id}`), 200);
      expect(after.data.status).toBe("active");
      expect(after.data.expires_at).toBeNull();
      expect((await keyFetch(target.key, "/demo/x", { headers: { "cf-connecting-ip": "198.51.100.1" } })).status).toBe(allowed_ips?.[0] === "198.51.100.0/24" || !allowed_ips ? 200 : 403);
    }
  });

  it("may rotate a key inside its own list (the new key keeps that list); an unrestricted org key and the operator rotate any", async () => {
    const { id } = await createOrg();
    const writer = await createKey(id, { scopes: ["admin"], allowed_ips: ["203.0.113.0/24"] });
    const inside = await createKey(id, { allowed_ips: ["203.0.113.128/25"] });
    const rotated = await expectJson<{ data: KeyJson }>(await rotate(writer.key, id, inside.id), 201);
    expect(rotated.data.allowed_ips).toEqual(["203.0.113.128/25"]);

    const free = await createKey(id, { scopes: ["admin"] });
    const anywhere = await createKey(id);
    expect((await rotate(free.key, id, anywhere.id)).status).toBe(201);
    const other = await createKey(id);
    expect((await adminFetch(`/orgs/${id}/keys/${other.id}/rotate`, { method: "POST", json: {} })).status).toBe(201);
  });
});
