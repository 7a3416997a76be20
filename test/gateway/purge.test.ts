// Management changes reach the hot path on the very next request: each one purges the key's
// cached record from this isolate's memory and from KV. Every key here is warmed first, so a
// missing purge would show up as the old answer.
import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { handleRequest } from "../../src/app";
import { clearMemoryCache } from "../support/isolate";
import { adminFetch, createKey, createOrg, keyFetch, MANAGEMENT } from "../harness";

async function code(res: Response): Promise<string> {
  return ((await res.json()) as { error: { code: string } }).error.code;
}

/** Calls the gateway with the key and waits for its background work: its record is then in memory and KV. */
async function warm(key: string, path = "/demo/x"): Promise<void> {
  const ctx = createExecutionContext();
  const res = await handleRequest(new Request(`http://gw.test${path}`, { headers: { "x-api-key": key } }), env, ctx);
  await waitOnExecutionContext(ctx);
  expect(res.status).toBe(200);
}

describe("management changes take effect on the next request", () => {
  it("revoke: the very next request with the key is 401 key_revoked", async () => {
    const org = await createOrg();
    const { id, key } = await createKey(org.id);
    await warm(key);
    expect((await adminFetch(`/orgs/${org.id}/keys/${id}/revoke`, { method: "POST" })).status).toBe(200);
    const res = await keyFetch(key, "/demo/x");
    expect(res.status).toBe(401);
    expect(await code(res)).toBe("key_revoked");
  });

  it("revoke purges KV too: with this isolate's memory gone, the key is still refused", async () => {
    const org = await createOrg();
    const { id, key } = await createKey(org.id);
    await warm(key);
    await adminFetch(`/orgs/${org.id}/keys/${id}/revoke`, { method: "POST" });
    clearMemoryCache();
    expect(await code(await keyFetch(key, "/demo/x"))).toBe("key_revoked");
  });

  it("rotate without grace: the old key is refused at once and the new one works", async () => {
    const org = await createOrg();
    const old = await createKey(org.id);
    await warm(old.key);
    const res = await adminFetch(`/orgs/${org.id}/keys/${old.id}/rotate`, { method: "POST", json: {} });
    expect(res.status).toBe(201);
    const { data } = (await res.json()) as { data: { key: string } };
    expect(await code(await keyFetch(old.key, "/demo/x"))).toBe("key_revoked");
    expect((await keyFetch(data.key, "/demo/x")).status).toBe(200);
  });

  it("rotate with a grace period: both keys work until it ends", async () => {
    const org = await createOrg();
    const old = await createKey(org.id);
    await warm(old.key);
    const res = await adminFetch(`/orgs/${org.id}/keys/${old.id}/rotate`, { method: "POST", json: { grace_period: "1h" } });
    const { data } = (await res.json()) as { data: { key: string } };
    expect((await keyFetch(old.key, "/demo/x")).status).toBe(200);
    expect((await keyFetch(data.key, "/demo/x")).status).toBe(200);
  });

  it("a scope added by PATCH admits the next request; a scope removed refuses it", async () => {
    const org = await createOrg();
    const { id, key } = await createKey(org.id, { scopes: ["demo:read"] });
    await warm(key);
    expect((await keyFetch(key, "/demo/x", { method: "POST" })).status).toBe(403);

    await adminFetch(`/orgs/${org.id}/keys/${id}`, { method: "PATCH", json: { scopes: ["demo:read", "demo:write"] } });
    expect((await keyFetch(key, "/demo/x", { method: "POST" })).status).toBe(200);

    await adminFetch(`/orgs/${org.id}/keys/${id}`, { method: "PATCH", json: { scopes: ["demo:write"] } });
    expect(await code(await keyFetch(key, "/demo/x"))).toBe("insufficient_scope");
  });

  it("an org's new tier applies to its warmed keys on the next request", async () => {
    const org = await createOrg({ tier: "free" });
    const { key } = await createKey(org.id);
    await warm(key);
    expect((await keyFetch(key, "/demo/x")).headers.get("x-ratelimit-limit")).toBe("60");
    expect((await adminFetch(`/orgs/${org.id}`, { method: "PATCH", json: { tier: "pro" } })).status).toBe(200);
    expect((await keyFetch(key, "/demo/x")).headers.get("x-ratelimit-limit")).toBe("600");
  });

  it("an org key revoking itself is refused on its next call, management included", async () => {
    const org = await createOrg();
    const { id, key } = await createKey(org.id, { scopes: ["keys:write", "keys:read", "demo:read"] });
    await warm(key);
    expect((await keyFetch(key, `${MANAGEMENT}/orgs/${org.id}/keys/${id}/revoke`, { method: "POST" })).status).toBe(200);
    expect(await code(await keyFetch(key, "/demo/x"))).toBe("key_revoked");
    expect((await keyFetch(key, `${MANAGEMENT}/orgs/${org.id}/keys`)).status).toBe(401);
  });
});
