// SPEC §9 on the management API: no API key in a URL. A key pasted where its id belongs reached the access logs
// whole, and the 404 quoted it back ("key kg_… not found").
import { describe, expect, it } from "vitest";
import { adminFetch, createKey, createOrg, gatewayFetch, keyFetch, MANAGEMENT } from "../harness";
import { expectError, orgPath } from "./support";

describe("management API: a URL holding an API key", () => {
  it.each([
    ["as the key id of a read", (org: string, key: string) => `/orgs/${org}/keys/${key}`],
    ["as the key id of a revoke", (org: string, key: string) => `/orgs/${org}/keys/${key}/revoke`],
    ["as the org id", (_org: string, key: string) => `/orgs/${key}/keys`],
    ["in a list filter", (org: string, key: string) => `/orgs/${org}/keys?name=${key}`],
    ["percent-encoded in the audit filter", (org: string, key: string) => `/orgs/${org}/audit?key_id=%${key.charCodeAt(0).toString(16)}${key.slice(1)}`],
    ["in a usage query", (org: string, key: string) => `/orgs/${org}/usage?since=${key}`],
  ])("%s is refused 400 invalid_request without repeating it, and the key still works", async (_, url) => {
    const { id: org } = await createOrg();
    const { key } = await createKey(org);
    const method = url(org, key).endsWith("/revoke") ? "POST" : "GET";
    const res = await adminFetch(url(org, key), { method });
    expect(res.headers.get("cache-control")).toBe("no-store");
    expect(res.headers.get("x-content-type-options")).toBe("nosniff");
    const text = JSON.stringify(await expectError(res, 400, "invalid_request"));
    expect(text).not.toContain(key);
    expect((await gatewayFetch("/demo/x", { headers: { authorization: `Bearer ${key}` } })).status).toBe(200);
  });

  it("is refused before authentication: with an org key, and with no credential at all", async () => {
    const { id: org } = await createOrg();
    const reader = await createKey(org, { scopes: ["keys:read"] });
    const { key } = await createKey(org);
    await expectError(await keyFetch(reader.key, `${MANAGEMENT}${orgPath(org, `/keys/${key}`).slice(MANAGEMENT.length)}`), 400, "invalid_request");
    const anonymous = await gatewayFetch(`${MANAGEMENT}/orgs/${org}/keys/${key}`);
    expect(await anonymous.text()).not.toContain(key);
  });

  it("an id, or a filter that is merely long, still passes", async () => {
    const { id: org } = await createOrg();
    const created = await createKey(org);
    expect((await adminFetch(`/orgs/${org}/keys/${created.id}`)).status).toBe(200);
    expect((await adminFetch(`/orgs/${org}/keys?name=${"a".repeat(60)}`)).status).toBe(200);
    // 49 base62 characters, but no prefix before them: not a key.
    expect((await adminFetch(`/orgs/${org}/keys?name=${"B".repeat(49)}`)).status).toBe(200);
  });
});

describe("management API: an unknown path holding an API key", () => {
  it.each([
    (key: string) => `/_keygate/v1/${key}`,
    (key: string) => `/_keygate/${key}`,
    (key: string) => `/_keygate/v1/docs/${key}`,
  ])("answers 404 naming the path with the key cut to its identifier (%#)", async (path) => {
    const { id: org } = await createOrg();
    const { key } = await createKey(org);
    const body = await expectError(await gatewayFetch(path(key)), 404, "not_found");
    expect(body.error.message).not.toContain(key);
    expect(body.error.message).toContain(`${key.slice(0, 11)}…`);
  });
});

describe("management API: a validation error quoting a key from the body", () => {
  it.each([
    ["as a scope", (key: string) => ({ name: "x", scopes: ["demo:read", key] })],
    ["as an allowed address", (key: string) => ({ name: "x", scopes: ["demo:read"], allowed_ips: [key] })],
    ["as a field name", (key: string) => ({ name: "x", scopes: ["demo:read"], [key]: true })],
  ])("%s: 400 with the key cut to its identifier in the message and details", async (_, body) => {
    const { id: org } = await createOrg();
    const { key } = await createKey(org);
    const error = await expectError(await adminFetch(`/orgs/${org}/keys`, { method: "POST", json: body(key) }), 400, "validation_error");
    const text = JSON.stringify(error);
    expect(text).not.toContain(key);
    expect(text).toContain(`${key.slice(0, 11)}…`);
  });
});
