import { describe, expect, it } from "vitest";
import { adminFetch, createKey, createOrg, gatewayFetch, keyFetch, type OrgJson } from "../harness";
import { expectJson, orgPath } from "./support";

interface Page<T> {
  data: T[];
  pagination: { page: number; per_page: number; total: number };
}

const unique = () => crypto.randomUUID().slice(0, 8);

describe("orgs: happy path", () => {
  it("operator creates an org with the default key limit", async () => {
    const res = await adminFetch("/orgs", { json: { name: "Acme Corp", tier: "pro" } });
    const { data } = await expectJson<{ data: OrgJson }>(res, 201);
    expect(data).toEqual({
      id: expect.stringMatching(/^org_[0-9A-Za-z]{20}$/),
      name: "Acme Corp",
      tier: "pro",
      max_active_keys: 25,
      created_at: expect.any(String),
      updated_at: data.created_at,
    });
    expect(Date.parse(data.created_at)).toBeGreaterThan(Date.now() - 60_000);
  });

  it("operator can set the key limit at creation", async () => {
    const { org } = await createOrg({ max_active_keys: 3 });
    expect(org.max_active_keys).toBe(3);
  });

  it("operator reads an org by id", async () => {
    const { id, org } = await createOrg({ name: "Readable" });
    const { data } = await expectJson<{ data: OrgJson }>(await adminFetch(`/orgs/${id}`), 200);
    expect(data).toEqual(org);
  });

  it("lists orgs with pagination totals", async () => {
    const tag = unique();
    for (const n of [1, 2, 3]) await createOrg({ name: `paged ${tag} ${n}` });
    const first = await expectJson<Page<OrgJson>>(await adminFetch(`/orgs?name=${tag}&per_page=2&sort=name`), 200);
    expect(first.pagination).toEqual({ page: 1, per_page: 2, total: 3 });
    expect(first.data.map((o) => o.name)).toEqual([`paged ${tag} 1`, `paged ${tag} 2`]);
    const second = await expectJson<Page<OrgJson>>(await adminFetch(`/orgs?name=${tag}&per_page=2&page=2&sort=name`), 200);
    expect(second.pagination).toEqual({ page: 2, per_page: 2, total: 3 });
    expect(second.data.map((o) => o.name)).toEqual([`paged ${tag} 3`]);
    const beyond = await expectJson<Page<OrgJson>>(await adminFetch(`/orgs?name=${tag}&per_page=2&page=3`), 200);
    expect(beyond.data).toEqual([]);
    expect(beyond.pagination.total).toBe(3);
  });

  it("defaults to 20 per page, newest first", async () => {
    const tag = unique();
    const a = await createOrg({ name: `order ${tag} a` });
    const b = await createOrg({ name: `order ${tag} b` });
    const page = await expectJson<Page<OrgJson>>(await adminFetch(`/orgs?name=${tag}`), 200);
    expect(page.pagination.per_page).toBe(20);
    expect(page.pagination.page).toBe(1);
    // Same-millisecond creations tie on created_at; the id breaks the tie, so only check membership then.
    if (a.org.created_at !== b.org.created_at) expect(page.data.map((o) => o.id)).toEqual([b.id, a.id]);
    else expect(page.data.map((o) => o.id).sort()).toEqual([a.id, b.id].sort());
  });

  it("sorts by name (case-insensitive) both ways and filters by tier and case-insensitive name substring", async () => {
    const tag = unique();
    await createOrg({ name: `Zeta ${tag}`, tier: "free" });
    await createOrg({ name: `alpha ${tag}`, tier: "pro" });
    await createOrg({ name: `Mid ${tag}`, tier: "pro" });
    const asc = await expectJson<Page<OrgJson>>(await adminFetch(`/orgs?name=${tag}&sort=name`), 200);
    expect(asc.data.map((o) => o.name)).toEqual([`alpha ${tag}`, `Mid ${tag}`, `Zeta ${tag}`]);
    const desc = await expectJson<Page<OrgJson>>(await adminFetch(`/orgs?name=${tag}&sort=-name`), 200);
    expect(desc.data.map((o) => o.name)).toEqual(asc.data.map((o) => o.name).reverse());
    const pro = await expectJson<Page<OrgJson>>(await adminFetch(`/orgs?name=${tag.toUpperCase()}&tier=pro`), 200);
    expect(pro.data.map((o) => o.tier)).toEqual(["pro", "pro"]);
    expect(pro.pagination.total).toBe(2);
  });

  it("treats % and _ in the name filter literally", async () => {
    const tag = unique();
    await createOrg({ name: `100% ${tag}` });
    await createOrg({ name: `100x ${tag}` });
    const page = await expectJson<Page<OrgJson>>(await adminFetch(`/orgs?name=${encodeURIComponent(`100% ${tag}`)}`), 200);
    expect(page.data.map((o) => o.name)).toEqual([`100% ${tag}`]);
  });

  it("operator changes name, tier and key limit", async () => {
    const { id, org } = await createOrg({ name: "Before", tier: "free" });
    const res = await adminFetch(`/orgs/${id}`, { method: "PATCH", json: { name: "After", tier: "enterprise", max_active_keys: 50 } });
    const { data } = await expectJson<{ data: OrgJson }>(res, 200);
    expect(data).toMatchObject({ id, name: "After", tier: "enterprise", max_active_keys: 50, created_at: org.created_at });
    expect(Date.parse(data.updated_at)).toBeGreaterThanOrEqual(Date.parse(org.updated_at));
    const reread = await expectJson<{ data: OrgJson }>(await adminFetch(`/orgs/${id}`), 200);
    expect(reread.data).toEqual(data);
  });

  it("a tier change reaches the gateway on the very next request (cached key records are purged)", async () => {
    const { id } = await createOrg({ tier: "free" });
    const { key } = await createKey(id, { scopes: ["demo:read"] });
    const before = await expectJson<{ headers: Record<string, string> }>(await keyFetch(key, "/demo/tier-check"), 200);
    expect(before.headers["x-keygate-tier"]).toBe("free");
    await expectJson(await adminFetch(`/orgs/${id}`, { method: "PATCH", json: { tier: "pro" } }), 200);
    const after = await expectJson<{ headers: Record<string, string> }>(await keyFetch(key, "/demo/tier-check"), 200);
    expect(after.headers["x-keygate-tier"]).toBe("pro");
  });

  it("an org key with any management scope reads its own org", async () => {
    const { id, org } = await createOrg();
    for (const scope of ["keys:read", "keys:write", "audit:read", "admin"]) {
      const { key } = await createKey(id, { scopes: [scope] });
      const { data } = await expectJson<{ data: OrgJson }>(await keyFetch(key, orgPath(id)), 200);
      expect(data).toEqual(org);
    }
  });

  it("health needs no credentials", async () => {
    expect(await expectJson(await gatewayFetch("/_keygate/v1/health"), 200)).toEqual({ data: { status: "ok", config: "valid" } });
  });
});
