// Who may change allowed_ips and enabled (issue 14): org keys narrow, never widen.
import { describe, expect, it } from "vitest";
import { adminFetch, createKey, createOrg, type KeyJson, keyFetch } from "../harness";
import { expectError, expectJson, orgPath } from "./support";

const HOME = "203.0.113.7";
const asKey = (key: string, path: string, json: unknown, method = "PATCH") => keyFetch(key, path, { method, json, headers: { "cf-connecting-ip": HOME } });

describe("allowed_ips: org keys may narrow but not widen", () => {
  it("an org key narrows a key's list; widening, replacing with a disjoint range or removing it is 403", async () => {
    const { id } = await createOrg();
    const writer = await createKey(id, { scopes: ["admin"] });
    const target = await createKey(id, { allowed_ips: ["10.0.0.0/8"] });
    const path = orgPath(id, `/keys/${target.id}`);

    const narrowed = await expectJson<{ data: KeyJson }>(await asKey(writer.key, path, { allowed_ips: ["10.1.0.0/16", "10.2.0.1"] }), 200);
    expect(narrowed.data.allowed_ips).toEqual(["10.1.0.0/16", "10.2.0.1"]);
    for (const allowed_ips of [["10.0.0.0/8"], ["11.0.0.0/8"], ["10.1.0.0/16", "192.0.2.1"], [], null]) {
      const body = await expectError(await asKey(writer.key, path, { allowed_ips }), 403, "forbidden");
      expect(body.error.details?.[0]?.field).toBe("allowed_ips");
    }
    const after = await expectJson<{ data: KeyJson }>(await adminFetch(`/orgs/${id}/keys/${target.id}`), 200);
    expect(after.data.allowed_ips).toEqual(["10.1.0.0/16", "10.2.0.1"]);
  });

  it("an org key may restrict an unrestricted key; the operator may widen or remove any list", async () => {
    const { id } = await createOrg();
    const writer = await createKey(id, { scopes: ["admin"] });
    const target = await createKey(id);
    const path = orgPath(id, `/keys/${target.id}`);
    expect((await asKey(writer.key, path, { allowed_ips: ["10.0.0.0/8"] })).status).toBe(200);
    expect((await adminFetch(`/orgs/${id}/keys/${target.id}`, { method: "PATCH", json: { allowed_ips: ["0.0.0.0/0"] } })).status).toBe(200);
    expect((await adminFetch(`/orgs/${id}/keys/${target.id}`, { method: "PATCH", json: { allowed_ips: null } })).status).toBe(200);
  });

  it("a restricted org key can only create keys within its own list", async () => {
    const { id } = await createOrg();
    const writer = await createKey(id, { scopes: ["admin"], allowed_ips: ["203.0.113.0/24"] });
    const path = orgPath(id, "/keys");
    const base = { name: "k", scopes: ["demo:read"] };
    await expectError(await asKey(writer.key, path, base, "POST"), 403, "forbidden");
    await expectError(await asKey(writer.key, path, { ...base, allowed_ips: ["198.51.100.0/24"] }, "POST"), 403, "forbidden");
    expect((await asKey(writer.key, path, { ...base, allowed_ips: ["203.0.113.128/25"] }, "POST")).status).toBe(201);
  });

  it("another org's key is 404 for enable/disable and keeps working", async () => {
    const mine = await createOrg();
    const theirs = await createOrg();
    const { key } = await createKey(mine.id, { scopes: ["admin"] });
    const target = await createKey(theirs.id);
    await expectError(await asKey(key, orgPath(theirs.id, `/keys/${target.id}`), { enabled: false }), 404, "not_found");
    expect((await keyFetch(target.key, "/demo/x")).status).toBe(200);
  });

  it("without keys:write a key cannot disable another: 403 insufficient_scope", async () => {
    const { id } = await createOrg();
    const reader = await createKey(id, { scopes: ["keys:read"] });
    const target = await createKey(id);
    await expectError(await asKey(reader.key, orgPath(id, `/keys/${target.id}`), { enabled: false }), 403, "insufficient_scope");
  });
});
