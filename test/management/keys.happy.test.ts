import { describe, expect, it } from "vitest";
import { parseKey } from "../../src/keys/format";
import { adminFetch, createKey, createOrg, type KeyJson, keyFetch } from "../harness";
import { expectJson, orgPath, setKeyColumns } from "./support";

interface Page<T> {
  data: T[];
  pagination: { page: number; per_page: number; total: number };
}

const DAY = 86_400_000;

async function listKeys(orgId: string, query = ""): Promise<Page<KeyJson>> {
  return expectJson<Page<KeyJson>>(await adminFetch(`/orgs/${orgId}/keys${query}`), 200);
}

describe("keys: create", () => {
  it("returns the full key once, with its display parts and every field of the representation", async () => {
    const { id } = await createOrg();
    const res = await adminFetch(`/orgs/${id}/keys`, { json: { name: "CI pipeline", scopes: ["demo:read", "demo:write"] } });
    const { data } = await expectJson<{ data: KeyJson & { key: string } }>(res, 201);
    expect(res.headers.get("cache-control")).toBe("no-store");
    expect(parseKey(data.key, "kg_").ok).toBe(true);
    expect(data).toEqual({
      id: expect.stringMatching(/^key_[0-9A-Za-z]{20}$/),
      key: data.key,
      name: "CI pipeline",
      identifier: data.key.slice(0, 11),
      last4: data.key.slice(-4),
      scopes: ["demo:read", "demo:write"],
      status: "active",
      enabled: true,
      disabled_at: null,
      allowed_ips: [],
      created_at: expect.any(String),
      age_days: 0,
      expires_at: null,
      last_used_at: null,
      revoked_at: null,
      rate_limit: null,
      rate_limits: null,
      quota: null,
      rotated_from: null,
      rotated_to: null,
      meta: null,
    });
  });

  it("the new key works at once, on the gateway and on the management API", async () => {
    const { id } = await createOrg();
    const { key } = await createKey(id, { scopes: ["demo:read", "keys:read"] });
    expect((await keyFetch(key, "/demo/hello")).status).toBe(200);
    expect((await keyFetch(key, orgPath(id, "/keys"))).status).toBe(200);
  });

  it.each([
    ["30d", 30 * DAY],
    ["90d", 90 * DAY],
    ["1y", 365 * DAY],
  ])("expires_in %s sets expires_at that far ahead", async (expiresIn, ms) => {
    const { id } = await createOrg();
    const before = Date.now();
    const { data } = await createKey(id, { expires_in: expiresIn as "30d" });
    const at = Date.parse(data.expires_at!);
    expect(at).toBeGreaterThanOrEqual(before + ms);
    expect(at).toBeLessThanOrEqual(Date.now() + ms);
  });

  it('expires_in "never" (or nothing) means no expiry', async () => {
    const { id } = await createOrg();
    expect((await createKey(id, { expires_in: "never" })).data.expires_at).toBeNull();
    expect((await createKey(id)).data.expires_at).toBeNull();
  });

  it("expires_at sets the exact expiry, with any offset", async () => {
    const { id } = await createOrg();
    const { data } = await createKey(id, { expires_at: "2099-06-01T12:00:00+02:00" });
    expect(data.expires_at).toBe("2099-06-01T10:00:00.000Z");
  });

  it("stores a per-key rate limit and meta and returns them as given", async () => {
    const { id } = await createOrg();
    const { data } = await createKey(id, { rate_limit: { limit: 5, window: "2m", mode: "fast" }, meta: { team: "payments", tags: ["a", 1] } });
    expect(data.rate_limit).toEqual({ limit: 5, window: "2m", mode: "fast" });
    expect(data.meta).toEqual({ team: "payments", tags: ["a", 1] });
    const reread = await expectJson<{ data: KeyJson }>(await adminFetch(`/orgs/${id}/keys/${data.id}`), 200);
    expect(reread.data).toEqual(data);
  });

  it("shows the window as written and drops duplicate scopes", async () => {
    const { id } = await createOrg();
    const { data } = await createKey(id, { scopes: ["demo:read", "demo:read", "admin"], rate_limit: { limit: 5, window: "3600s" } });
    expect(data.scopes).toEqual(["demo:read", "admin"]);
    expect(data.rate_limit).toEqual({ limit: 5, window: "3600s" });
  });

  it("an org key with keys:write creates keys in its own org", async () => {
    const { id } = await createOrg();
    const writer = await createKey(id, { scopes: ["keys:write", "demo:read"] });
    const res = await keyFetch(writer.key, orgPath(id, "/keys"), { json: { name: "made by a key", scopes: ["demo:read"] } });
    const { data } = await expectJson<{ data: KeyJson & { key: string } }>(res, 201);
    expect(data.scopes).toEqual(["demo:read"]);
  });
});

describe("keys: active-key limit", () => {
  it("allows 25 active keys by default and answers 409 key_limit_reached for the 26th", async () => {
    const { id } = await createOrg();
    for (let i = 0; i < 25; i++) await createKey(id, { name: `k${i}` });
    const res = await adminFetch(`/orgs/${id}/keys`, { json: { name: "one too many", scopes: ["demo:read"] } });
    expect(res.status).toBe(409);
    expect((await res.json<{ error: { code: string } }>()).error.code).toBe("key_limit_reached");
    expect((await listKeys(id)).pagination.total).toBe(25);
  });

  it("does not count revoked or expired keys", async () => {
    const { id } = await createOrg({ max_active_keys: 2 });
    const a = await createKey(id);
    const b = await createKey(id);
    expect((await adminFetch(`/orgs/${id}/keys`, { json: { name: "c", scopes: ["demo:read"] } })).status).toBe(409);
    await expectJson(await adminFetch(`/orgs/${id}/keys/${a.id}/revoke`, { method: "POST" }), 200);
    await createKey(id, { name: "after revoke" });
    await setKeyColumns(b.id, { expires_at: Date.now() - 1000 });
    await createKey(id, { name: "after expiry" });
    expect((await adminFetch(`/orgs/${id}/keys`, { json: { name: "d", scopes: ["demo:read"] } })).status).toBe(409);
  });

  it("applies a raised limit at once", async () => {
    const { id } = await createOrg({ max_active_keys: 1 });
    await createKey(id);
    expect((await adminFetch(`/orgs/${id}/keys`, { json: { name: "b", scopes: ["demo:read"] } })).status).toBe(409);
    await expectJson(await adminFetch(`/orgs/${id}`, { method: "PATCH", json: { max_active_keys: 2 } }), 200);
    await createKey(id, { name: "b" });
  });

  it("never lets concurrent creations overshoot the limit", async () => {
    const { id } = await createOrg({ max_active_keys: 3 });
    const results = await Promise.all(
      Array.from({ length: 8 }, (_, i) => adminFetch(`/orgs/${id}/keys`, { json: { name: `race ${i}`, scopes: ["demo:read"] } })),
    );
    expect(results.filter((r) => r.status === 201)).toHaveLength(3);
    expect(results.filter((r) => r.status === 409)).toHaveLength(5);
    expect((await listKeys(id, "?status=active")).pagination.total).toBe(3);
  });
});

describe("keys: read and list", () => {
  it("reads a key without the key itself or its hash", async () => {
    const { id } = await createOrg();
    const created = await createKey(id);
    const res = await adminFetch(`/orgs/${id}/keys/${created.id}`);
    const text = await res.text();
    expect(res.status).toBe(200);
    expect(JSON.parse(text)).toEqual({ data: created.data });
    expect(text).not.toContain(created.key);
    expect(text).not.toContain(created.key.slice(11, 40));
    expect(text).not.toContain(await sha256Hex(created.key));
  });

  it("lists keys with pagination totals and never shows a full key", async () => {
    const { id } = await createOrg();
    const keys = [];
    for (let i = 0; i < 5; i++) keys.push(await createKey(id, { name: `key ${i}` }));
    const first = await adminFetch(`/orgs/${id}/keys?per_page=2&sort=name`);
    const text = await first.text();
    const page = JSON.parse(text) as Page<KeyJson>;
    expect(page.pagination).toEqual({ page: 1, per_page: 2, total: 5 });
    expect(page.data.map((k) => k.name)).toEqual(["key 0", "key 1"]);
    for (const { key } of keys) expect(text).not.toContain(key);
    const last = await listKeys(id, "?per_page=2&page=3&sort=name");
    expect(last.data.map((k) => k.name)).toEqual(["key 4"]);
  });

  it("sorts by name, created_at, expires_at and last_used_at, both ways", async () => {
    const { id } = await createOrg();
    const b = await createKey(id, { name: "bravo", expires_in: "90d" });
    const a = await createKey(id, { name: "Alpha", expires_in: "30d" });
    const c = await createKey(id, { name: "charlie" });
    await setKeyColumns(b.id, { created_at: 1_000, last_used_at: Date.now() - 5_000 });
    await setKeyColumns(a.id, { created_at: 2_000, last_used_at: Date.now() - 50_000 });
    await setKeyColumns(c.id, { created_at: 3_000, last_used_at: null });
    const order = async (sort: string) => (await listKeys(id, `?sort=${sort}`)).data.map((k) => k.name);
    expect(await order("name")).toEqual(["Alpha", "bravo", "charlie"]);
    expect(await order("-name")).toEqual(["charlie", "bravo", "Alpha"]);
    expect(await order("created_at")).toEqual(["bravo", "Alpha", "charlie"]);
    expect(await order("-created_at")).toEqual(["charlie", "Alpha", "bravo"]);
    // Keys that never expire come after every key that does.
    expect(await order("expires_at")).toEqual(["Alpha", "bravo", "charlie"]);
    expect(await order("-expires_at")).toEqual(["charlie", "bravo", "Alpha"]);
    // Never used counts as least recently used.
    expect(await order("last_used_at")).toEqual(["charlie", "Alpha", "bravo"]);
    expect(await order("-last_used_at")).toEqual(["bravo", "Alpha", "charlie"]);
  });

  it("filters by computed status, one or several", async () => {
    const { id } = await createOrg();
    const active = await createKey(id, { name: "active" });
    const expired = await createKey(id, { name: "expired", expires_in: "30d" });
    const revoked = await createKey(id, { name: "revoked" });
    await setKeyColumns(expired.id, { expires_at: Date.now() - 1 });
    await expectJson(await adminFetch(`/orgs/${id}/keys/${revoked.id}/revoke`, { method: "POST" }), 200);
    const names = async (status: string) => (await listKeys(id, `?status=${status}&sort=name`)).data.map((k) => [k.name, k.status]);
    expect(await names("active")).toEqual([["active", "active"]]);
    expect(await names("expired")).toEqual([["expired", "expired"]]);
    expect(await names("revoked")).toEqual([["revoked", "revoked"]]);
    expect(await names("expired,revoked")).toEqual([["expired", "expired"], ["revoked", "revoked"]]);
    expect((await listKeys(id)).pagination.total).toBe(3);
    expect(active.data.status).toBe("active");
  });

  it("filters by case-insensitive name substring", async () => {
    const { id } = await createOrg();
    await createKey(id, { name: "Prod deploy" });
    await createKey(id, { name: "staging deploy" });
    await createKey(id, { name: "backup" });
    const page = await listKeys(id, "?name=DEPLOY&sort=name");
    expect(page.data.map((k) => k.name)).toEqual(["Prod deploy", "staging deploy"]);
    expect(page.pagination.total).toBe(2);
  });

  it("unused_since lists keys never used or last used before that time", async () => {
    const { id } = await createOrg();
    const never = await createKey(id, { name: "never" });
    const old = await createKey(id, { name: "old" });
    const recent = await createKey(id, { name: "recent" });
    await setKeyColumns(old.id, { last_used_at: Date.parse("2026-01-10T00:00:00Z") });
    await setKeyColumns(recent.id, { last_used_at: Date.parse("2026-03-10T00:00:00Z") });
    const names = async (since: string) => (await listKeys(id, `?unused_since=${encodeURIComponent(since)}&sort=name`)).data.map((k) => k.name);
    expect(await names("2026-02-01")).toEqual(["never", "old"]);
    expect(await names("2026-02-01T00:00:00+01:00")).toEqual(["never", "old"]);
    expect(await names("2026-01-01")).toEqual(["never"]);
    expect(await names("2026-04-01T00:00:00Z")).toEqual(["never", "old", "recent"]);
    const reread = await expectJson<{ data: KeyJson }>(await adminFetch(`/orgs/${id}/keys/${old.id}`), 200);
    expect(reread.data.last_used_at).toBe("2026-01-10T00:00:00.000Z");
    expect(never.data.last_used_at).toBeNull();
  });
});

describe("keys: update", () => {
  it("renames, changes scopes, rate limit and meta", async () => {
    const { id } = await createOrg();
    const { id: keyId, data } = await createKey(id, { rate_limit: { limit: 5, window: "60s" } });
    const res = await adminFetch(`/orgs/${id}/keys/${keyId}`, {
      method: "PATCH",
      json: { name: "renamed", scopes: ["demo:write"], rate_limit: { limit: 10, window: "30s", mode: "strict" }, meta: { v: 2 } },
    });
    const updated = await expectJson<{ data: KeyJson }>(res, 200);
    expect(updated.data).toEqual({
      ...data,
      name: "renamed",
      scopes: ["demo:write"],
      rate_limit: { limit: 10, window: "30s", mode: "strict" },
      rate_limits: [{ name: "default", limit: 10, window: "30s", mode: "strict" }],
      meta: { v: 2 },
    });
    expect(await expectJson(await adminFetch(`/orgs/${id}/keys/${keyId}`), 200)).toEqual(updated);
  });

  it("rate_limit null and meta null clear them", async () => {
    const { id } = await createOrg();
    const { id: keyId } = await createKey(id, { rate_limit: { limit: 5, window: "60s" }, meta: { a: 1 } });
    const { data } = await expectJson<{ data: KeyJson }>(await adminFetch(`/orgs/${id}/keys/${keyId}`, { method: "PATCH", json: { rate_limit: null, meta: null } }), 200);
    expect(data.rate_limit).toBeNull();
    expect(data.meta).toBeNull();
  });

  it("a scope change takes effect on the very next request (the cached record is purged)", async () => {
    const { id } = await createOrg();
    const { id: keyId, key } = await createKey(id, { scopes: ["keys:read", "demo:read"] });
    expect((await keyFetch(key, orgPath(id, "/keys"))).status).toBe(200);
    expect((await keyFetch(key, "/demo/x")).status).toBe(200);
    await expectJson(await adminFetch(`/orgs/${id}/keys/${keyId}`, { method: "PATCH", json: { scopes: ["demo:read"] } }), 200);
    expect((await keyFetch(key, orgPath(id, "/keys"))).status).toBe(403);
    await expectJson(await adminFetch(`/orgs/${id}/keys/${keyId}`, { method: "PATCH", json: { scopes: ["keys:read"] } }), 200);
    expect((await keyFetch(key, "/demo/x")).status).toBe(403);
    expect((await keyFetch(key, orgPath(id, "/keys"))).status).toBe(200);
  });

  it("a PATCH with the current values changes nothing and records nothing", async () => {
    const { id } = await createOrg();
    const { id: keyId, data } = await createKey(id, { name: "same" });
    const res = await adminFetch(`/orgs/${id}/keys/${keyId}`, { method: "PATCH", json: { name: "same", scopes: data.scopes } });
    expect((await expectJson<{ data: KeyJson }>(res, 200)).data).toEqual(data);
    const audit = await expectJson<Page<{ action: string }>>(await adminFetch(`/orgs/${id}/audit?action=key.updated`), 200);
    expect(audit.pagination.total).toBe(0);
  });

  it("an org key with keys:write updates keys of its own org", async () => {
    const { id } = await createOrg();
    const writer = await createKey(id, { scopes: ["keys:write", "demo:read"] });
    const target = await createKey(id);
    const res = await keyFetch(writer.key, orgPath(id, `/keys/${target.id}`), { method: "PATCH", json: { name: "by key" } });
    expect((await expectJson<{ data: KeyJson }>(res, 200)).data.name).toBe("by key");
  });
});

async function sha256Hex(text: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
}
