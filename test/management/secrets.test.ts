// Issue 18 "Secrets": after a workload touching every management operation and the hot path's
// success and failure paths, no management response (beyond the one create/rotate answer that
// hands the key out), no audit or usage row, no KV entry and nothing printed holds a full key or
// the admin token. What is printed is scanned for every test file by test/secrets-scan.ts; this
// file scans the rest.
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { adminFetch, createOrg, gatewayFetch, keyFetch, MANAGEMENT } from "../harness";
import { secretsIn } from "../secrets-scan";

async function text(res: Response): Promise<string> {
  return [...res.headers].map(([name, value]) => `${name}: ${value}`).join("\n") + "\n" + (await res.text());
}

describe("secrets scan", () => {
  it("0 occurrences of any full key or the admin token in management responses, the audit trail, usage, auth failures and KV", async () => {
    const seen: string[] = [];
    const record = async (res: Response) => {
      seen.push(await text(res));
      return res;
    };
    const handedOut: string[] = [];
    const { id: orgId } = await createOrg({ tier: "pro" });
    const orgPath = `/orgs/${orgId}`;

    // Keys are handed out exactly once (create, rotate): those bodies are checked to hold only their own key.
    const created = async (res: Response) => {
      expect(res.status, await res.clone().text()).toBe(201);
      const body = (await res.json()) as { data: { id: string; key: string } };
      handedOut.push(body.data.key);
      expect(secretsIn(JSON.stringify(body))).toEqual([body.data.key]);
      return body.data;
    };
    const manager = await created(await adminFetch(`${orgPath}/keys`, { method: "POST", json: { name: "manager", scopes: ["keys:read", "keys:write", "audit:read", "demo:read"] } }));
    const reader = await created(await adminFetch(`${orgPath}/keys`, { method: "POST", json: { name: "reader", scopes: ["demo:read"] } }));
    const doomed = await created(await keyFetch(manager.key, `${MANAGEMENT}${orgPath}/keys`, { method: "POST", json: { name: "doomed", scopes: ["demo:read"] } }));

    // The hot path: success, refusals, a revoked key, an unknown one, a malformed one, two different keys.
    await record(await keyFetch(reader.key, "/demo/items?x=1"));
    await record(await keyFetch(reader.key, "/demo/items", { method: "POST", json: { a: 1 } }));
    await record(await keyFetch(reader.key, "//demo/internal"));
    await record(await gatewayFetch("/demo/x", { headers: { "x-api-key": reader.key, authorization: `Bearer ${doomed.key}` } }));
    await record(await gatewayFetch("/demo/x", { headers: { "x-api-key": reader.key.slice(0, -2) + "zz" } }));
    await record(await gatewayFetch("/demo/x", { headers: { authorization: `Bearer ${env.ADMIN_TOKEN}` } }));

    // Management: every operation, as operator and as an org key, and failures.
    await record(await keyFetch(manager.key, `${MANAGEMENT}${orgPath}/keys`));
    await record(await keyFetch(manager.key, `${MANAGEMENT}${orgPath}/keys/${doomed.id}`));
    await record(await keyFetch(manager.key, `${MANAGEMENT}${orgPath}/keys/${doomed.id}`, { method: "PATCH", json: { name: "renamed" } }));
    const rotated = await created(await keyFetch(manager.key, `${MANAGEMENT}${orgPath}/keys/${doomed.id}/rotate`, { method: "POST", json: { grace_period: "0s" } }));
    await record(await keyFetch(manager.key, `${MANAGEMENT}${orgPath}/keys/${rotated.id}/revoke`, { method: "POST" }));
    await record(await keyFetch(doomed.key, "/demo/x"));
    await record(await keyFetch(rotated.key, `${MANAGEMENT}${orgPath}/keys`));
    await record(await keyFetch(reader.key, `${MANAGEMENT}${orgPath}/keys`));
    await record(await keyFetch(manager.key, `${MANAGEMENT}${orgPath}/audit`));
    await record(await keyFetch(manager.key, `${MANAGEMENT}${orgPath}/keys/${reader.id}/usage`));
    await record(await keyFetch(manager.key, `${MANAGEMENT}${orgPath}/usage`));
    await record(await adminFetch(`${orgPath}/audit?per_page=100`));
    await record(await adminFetch(`/orgs?per_page=100`));
    await record(await adminFetch(orgPath, { method: "PATCH", json: { tier: "enterprise" } }));
    await record(await adminFetch(`${orgPath}/keys`, { method: "POST", json: { name: "bad", scopes: ["no:such"] } }));
    await record(await gatewayFetch(`${MANAGEMENT}/orgs`, { headers: { authorization: `Bearer ${env.ADMIN_TOKEN}x` } }));
    await record(await gatewayFetch(`${MANAGEMENT}/orgs`, { headers: { authorization: `Bearer ${reader.key}` } }));
    await record(await gatewayFetch(`${MANAGEMENT}/openapi.json`));

    // The stores behind the API.
    for (const table of ["audit_events", "usage_minutes", "usage_recent", "auth_failures", "api_keys", "orgs"]) {
      const { results } = await env.DB.prepare(`SELECT * FROM ${table}`).all();
      seen.push(`${table}: ${JSON.stringify(results)}`);
    }
    const listed = await env.KEY_CACHE.list();
    for (const { name } of listed.keys) seen.push(`kv ${name}: ${await env.KEY_CACHE.get(name)}`);

    const all = seen.join("\n");
    const hits = secretsIn(all);
    console.log(`secrets scan: ${seen.length} responses, tables and KV entries (${all.length} characters), ${handedOut.length} keys handed out, ${hits.length} hits`);
    expect(all.length).toBeGreaterThan(10_000);
    for (const key of handedOut) expect(all.includes(key)).toBe(false);
    expect(hits).toEqual([]);
  });
});
