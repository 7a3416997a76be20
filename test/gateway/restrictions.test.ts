// Key restrictions at the gateway (issue 14): allowed_ips and enabled, as a client sees them.
import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { handleRequest } from "../../src/app";
import { clearMemoryCache } from "../support/isolate";
import { adminFetch, createKey, createOrg, keyFetch } from "../harness";
import { expectError, orgPath } from "../management/support";

const from = (ip: string | null, extra: Record<string, string> = {}) => ({ headers: { ...(ip === null ? {} : { "cf-connecting-ip": ip }), ...extra } });

/** One call with the key through the worker, its background work awaited: the record is then in memory and KV. */
async function warm(key: string, ip = "203.0.113.7"): Promise<void> {
  const ctx = createExecutionContext();
  const res = await handleRequest(new Request("http://gw.test/demo/x", { headers: { "x-api-key": key, "cf-connecting-ip": ip } }), env, ctx);
  await waitOnExecutionContext(ctx);
  expect(res.status).toBe(200);
}

const patch = (orgId: string, keyId: string, json: unknown) => adminFetch(`/orgs/${orgId}/keys/${keyId}`, { method: "PATCH", json });

describe("allowed_ips at the gateway", () => {
  it("admits a request from an allowed address or range and refuses others with 403 ip_not_allowed", async () => {
    const { id } = await createOrg();
    const { key } = await createKey(id, { allowed_ips: ["203.0.113.0/24", "2001:db8::/32"] });
    expect((await keyFetch(key, "/demo/x", from("203.0.113.200"))).status).toBe(200);
    expect((await keyFetch(key, "/demo/x", from("2001:db8:1::5"))).status).toBe(200);
    // A client reaching Cloudflare over IPv6 with a mapped IPv4 address is the IPv4 address.
    expect((await keyFetch(key, "/demo/x", from("::ffff:203.0.113.9"))).status).toBe(200);
    const body = await expectError(await keyFetch(key, "/demo/x", from("198.51.100.1")), 403, "ip_not_allowed");
    expect(body.error.details).toEqual([{ field: "client_ip", message: "198.51.100.1 is not in the key's allowed_ips" }]);
    await expectError(await keyFetch(key, "/demo/x", from("2001:db9::1")), 403, "ip_not_allowed");
  });

  it("one client, one answer: mapped ::ffff:a.b.c.d is the IPv4 client, ::/0 admits neither spelling, odd spellings are no address", async () => {
    const { id } = await createOrg();
    const { key } = await createKey(id, { allowed_ips: ["::/0", "10.0.0.0/8"] });
    expect((await keyFetch(key, "/demo/x", from("::"))).status).toBe(200);
    expect((await keyFetch(key, "/demo/x", from("::ffff:10.1.2.3"))).status).toBe(200);
    // IPv4-compatible ::10.1.2.3 is the IPv6 address ::a01:203, inside ::/0 (not the IPv4 host 10.1.2.3).
    expect((await keyFetch(key, "/demo/x", from("::10.1.2.3"))).status).toBe(200);
    await expectError(await keyFetch(key, "/demo/x", from("203.0.113.7")), 403, "ip_not_allowed");
    await expectError(await keyFetch(key, "/demo/x", from("::ffff:203.0.113.7")), 403, "ip_not_allowed");
    for (const odd of ["10.1", "0x0a.0.0.1", "010.0.0.1", "fe80::1%eth0"]) await expectError(await keyFetch(key, "/demo/x", from(odd)), 403, "ip_not_allowed");
  });

  it("takes the client address from CF-Connecting-IP only: X-Forwarded-For, X-Real-IP, True-Client-IP and Forwarded cannot claim an allowed one", async () => {
    const { id } = await createOrg();
    const { key } = await createKey(id, { allowed_ips: ["203.0.113.7"] });
    const spoofed = { "x-forwarded-for": "203.0.113.7", "x-real-ip": "203.0.113.7", "true-client-ip": "203.0.113.7", forwarded: "for=203.0.113.7" };
    await expectError(await keyFetch(key, "/demo/x", from("198.51.100.1", spoofed)), 403, "ip_not_allowed");
    await expectError(await keyFetch(key, "/demo/x", from(null, spoofed)), 403, "ip_not_allowed");
    expect((await keyFetch(key, "/demo/x", from("203.0.113.7"))).status).toBe(200);
  });

  it("a refused request spends none of the key's rate limit (checked before the limiter)", async () => {
    const { id } = await createOrg();
    const { key } = await createKey(id, { allowed_ips: ["203.0.113.7"], rate_limit: { limit: 2, window: "1h" } });
    for (let i = 0; i < 5; i++) await expectError(await keyFetch(key, "/demo/x", from("198.51.100.1")), 403, "ip_not_allowed");
    const first = await keyFetch(key, "/demo/x", from("203.0.113.7"));
    expect(first.status).toBe(200);
    expect(first.headers.get("x-ratelimit-remaining")).toBe("1");
    expect((await keyFetch(key, "/demo/x", from("203.0.113.7"))).status).toBe(200);
    await expectError(await keyFetch(key, "/demo/x", from("203.0.113.7")), 429, "rate_limited");
  });

  it("is checked before the route: a key used from elsewhere learns nothing about routes or scopes", async () => {
    const { id } = await createOrg();
    const { key } = await createKey(id, { allowed_ips: ["203.0.113.7"] });
    await expectError(await keyFetch(key, "/no-such-route", from("198.51.100.1")), 403, "ip_not_allowed");
    await expectError(await keyFetch(key, "/demo/x", { method: "POST", ...from("198.51.100.1") }), 403, "ip_not_allowed");
  });

  it("a key without allowed_ips works from anywhere, with or without a client address", async () => {
    const { id } = await createOrg();
    const { key } = await createKey(id);
    expect((await keyFetch(key, "/demo/x", from("198.51.100.1"))).status).toBe(200);
    expect((await keyFetch(key, "/demo/x", from(null))).status).toBe(200);
  });

  it("a PATCHed allowlist applies to a warmed key on the very next request, and clearing it lifts the restriction", async () => {
    const { id } = await createOrg();
    const created = await createKey(id);
    await warm(created.key, "198.51.100.1");
    expect((await patch(id, created.id, { allowed_ips: ["203.0.113.0/24"] })).status).toBe(200);
    await expectError(await keyFetch(created.key, "/demo/x", from("198.51.100.1")), 403, "ip_not_allowed");
    clearMemoryCache();
    await expectError(await keyFetch(created.key, "/demo/x", from("198.51.100.1")), 403, "ip_not_allowed");
    expect((await patch(id, created.id, { allowed_ips: [] })).status).toBe(200);
    expect((await keyFetch(created.key, "/demo/x", from("198.51.100.1"))).status).toBe(200);
  });

  it("applies on the management API too: an org key used from elsewhere is refused there", async () => {
    const { id } = await createOrg();
    const { key } = await createKey(id, { scopes: ["keys:read"], allowed_ips: ["203.0.113.7"] });
    await expectError(await keyFetch(key, orgPath(id, "/keys"), from("198.51.100.1")), 403, "ip_not_allowed");
    expect((await keyFetch(key, orgPath(id, "/keys"), from("203.0.113.7"))).status).toBe(200);
  });
});

describe("enabled at the gateway", () => {
  it("a disabled key is refused on the very next request with 401 key_disabled and WWW-Authenticate; enabling restores it", async () => {
    const { id } = await createOrg();
    const created = await createKey(id);
    await warm(created.key);
    expect((await patch(id, created.id, { enabled: false })).status).toBe(200);
    const res = await keyFetch(created.key, "/demo/x");
    expect(res.headers.get("www-authenticate")).toBe('Bearer realm="keygate", error="invalid_token"');
    await expectError(res, 401, "key_disabled");

    expect((await patch(id, created.id, { enabled: true })).status).toBe(200);
    expect((await keyFetch(created.key, "/demo/x")).status).toBe(200);
  });

  it("disabling purges KV too: with this isolate's memory gone, the key is still refused", async () => {
    const { id } = await createOrg();
    const created = await createKey(id);
    await warm(created.key);
    await patch(id, created.id, { enabled: false });
    clearMemoryCache();
    await expectError(await keyFetch(created.key, "/demo/x"), 401, "key_disabled");
  });

  it("a disabled org key cannot use the management API", async () => {
    const { id } = await createOrg();
    const created = await createKey(id, { scopes: ["admin"] });
    await patch(id, created.id, { enabled: false });
    await expectError(await keyFetch(created.key, orgPath(id, "/keys")), 401, "key_disabled");
  });
});
