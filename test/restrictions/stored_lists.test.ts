// allowed_ips as D1 holds them, whoever wrote them: an entry the API would never store (written by direct SQL, or by a
// laxer release) matches nothing, and the key's other entries still apply. Never a 500 for every request of the key.
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { adminFetch, createKey, createOrg, type KeyJson, keyFetch } from "../harness";
import { expectError, expectJson, orgPath } from "../management/support";

async function storeList(keyId: string, list: unknown) {
  await env.DB.prepare("UPDATE api_keys SET allowed_ips = ? WHERE id = ?").bind(JSON.stringify(list), keyId).run();
}
const from = (ip: string) => ({ headers: { "cf-connecting-ip": ip } });

describe("stored allowlists the API would not write", () => {
  it("an entry that is no address or range matches nothing; the others still admit, everyone else gets 403 ip_not_allowed", async () => {
    const { id } = await createOrg();
    const created = await createKey(id);
    await storeList(created.id, ["10.1", "203.0.113.0/24", "fe80::1%eth0", "1.2.3.4/40"]);
    expect((await keyFetch(created.key, "/demo/x", from("203.0.113.9"))).status).toBe(200);
    for (const ip of ["10.1.0.0", "10.0.0.1", "198.51.100.1", "fe80::1", "1.2.3.4"]) await expectError(await keyFetch(created.key, "/demo/x", from(ip)), 403, "ip_not_allowed");
  });

  it("a list of nothing but such entries admits nobody (fails closed), and the key can still be read and fixed", async () => {
    const { id } = await createOrg();
    const created = await createKey(id);
    await storeList(created.id, ["not an address"]);
    await expectError(await keyFetch(created.key, "/demo/x", from("203.0.113.9")), 403, "ip_not_allowed");
    expect((await expectJson<{ data: KeyJson }>(await adminFetch(`/orgs/${id}/keys/${created.id}`), 200)).data.allowed_ips).toEqual(["not an address"]);
    expect((await adminFetch(`/orgs/${id}/keys/${created.id}`, { method: "PATCH", json: { allowed_ips: ["203.0.113.0/24"] } })).status).toBe(200);
    expect((await keyFetch(created.key, "/demo/x", from("203.0.113.9"))).status).toBe(200);
    // Not even a list: nobody, not anywhere.
    for (const stored of ["203.0.113.0/24", { a: 1 }, 7, "", 0, false]) {
      const other = await createKey(id); // uncached: stored before its first use
      await storeList(other.id, stored);
      await expectError(await keyFetch(other.key, "/demo/x", from("203.0.113.9")), 403, "ip_not_allowed");
    }
  });

  it("an org key with such a list still manages keys from an allowed address, and narrowing a key with such a list is judged on its real ranges", async () => {
    const { id } = await createOrg();
    const writer = await createKey(id, { scopes: ["admin"] });
    await storeList(writer.id, ["bogus", "203.0.113.0/24"]);
    const target = await createKey(id);
    await storeList(target.id, ["bogus", "10.0.0.0/8"]);
    const asWriter = (json: unknown) => keyFetch(writer.key, orgPath(id, `/keys/${target.id}`), { method: "PATCH", json, headers: { "cf-connecting-ip": "203.0.113.7" } });
    expect((await keyFetch(writer.key, orgPath(id, "/keys"), from("203.0.113.7"))).status).toBe(200);
    // Inside the writer's own list only: the target's 10/8 is not inside 203.0.113.0/24.
    await expectError(await asWriter({ allowed_ips: ["10.1.0.0/16"] }), 403, "forbidden");
    expect((await asWriter({ allowed_ips: ["203.0.113.0/25"] })).status).toBe(403);
  });
});
