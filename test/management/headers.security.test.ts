// Management answers are never cached and never sniffed: every one of them (success, refusal, unknown
// route, wrong method) says `Cache-Control: no-store` and `X-Content-Type-Options: nosniff`. They carry
// tenant data, and create and rotate carry a key.
import { describe, expect, it } from "vitest";
import { adminFetch, createKey, createOrg, gatewayFetch, keyFetch, MANAGEMENT } from "../harness";

describe("management answers are not cached and not sniffed", () => {
  it("every kind of answer says no-store and nosniff", async () => {
    const { id } = await createOrg();
    const key = await createKey(id, { scopes: ["keys:read"] });
    const answers: [string, Response][] = [
      ["create org 201", await adminFetch("/orgs", { json: { name: "headers", tier: "free" } })],
      ["create key 201", await adminFetch(`/orgs/${id}/keys`, { json: { name: "k", scopes: ["demo:read"] } })],
      ["list keys 200", await adminFetch(`/orgs/${id}/keys`)],
      ["read key as org key 200", await keyFetch(key.key, `${MANAGEMENT}/orgs/${id}/keys/${key.id}`)],
      ["audit 200", await adminFetch(`/orgs/${id}/audit`)],
      ["health 200", await gatewayFetch(`${MANAGEMENT}/health`)],
      ["openapi.json 200", await gatewayFetch(`${MANAGEMENT}/openapi.json`)],
      ["validation 400", await adminFetch("/orgs", { json: { name: "" } })],
      ["no credentials 401", await gatewayFetch(`${MANAGEMENT}/orgs`)],
      ["operator only 403", await keyFetch(key.key, `${MANAGEMENT}/orgs`)],
      ["unknown key 404", await adminFetch(`/orgs/${id}/keys/key_doesnotexist0000`)],
      ["unknown route 404", await adminFetch("/nope")],
      ["wrong method 405", await adminFetch(`/orgs/${id}`, { method: "DELETE" })],
      ["too large 413", await adminFetch("/orgs", { method: "POST", headers: { "content-type": "application/json" }, body: "x".repeat(70_000) })],
      ["not JSON 415", await adminFetch("/orgs", { method: "POST", headers: { "content-type": "text/plain" }, body: "x" })],
    ];
    for (const [what, res] of answers) {
      expect(res.headers.get("cache-control"), what).toBe("no-store");
      expect(res.headers.get("x-content-type-options"), what).toBe("nosniff");
    }
  });

  it("the docs page keeps its own CSP and its pinned bundle stays cacheable", async () => {
    const page = await gatewayFetch(`${MANAGEMENT}/docs`);
    expect(page.headers.get("content-security-policy")).toContain("default-src 'self'");
    const html = await page.text();
    const bundle = /src="([^"]*scalar-[^"]+\.js)"/.exec(html)![1]!;
    const script = await gatewayFetch(bundle);
    expect(script.headers.get("cache-control")).toContain("immutable");
    expect(script.headers.get("x-content-type-options")).toBe("nosniff");
  });
});
