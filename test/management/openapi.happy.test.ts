import pkg from "../../package.json";
import { describe, expect, it } from "vitest";
import { gatewayFetch, MANAGEMENT } from "../harness";
import { expectJson } from "./support";

interface OpenApiDocument {
  openapi: string;
  info: { title: string };
  paths: Record<string, Record<string, { security?: unknown[]; requestBody?: { content: Record<string, { schema: unknown }> }; responses: Record<string, unknown> }>>;
  components: { schemas: Record<string, { properties?: Record<string, unknown>; required?: string[]; allOf?: unknown[] }>; securitySchemes: Record<string, unknown> };
  security: unknown[];
}

// Every row of SPEC §5's table except usage (another module registers that one).
const SPEC_ROUTES = [
  ["post", "/orgs"],
  ["get", "/orgs"],
  ["get", "/orgs/{org_id}"],
  ["patch", "/orgs/{org_id}"],
  ["post", "/orgs/{org_id}/keys"],
  ["get", "/orgs/{org_id}/keys"],
  ["get", "/orgs/{org_id}/keys/{key_id}"],
  ["patch", "/orgs/{org_id}/keys/{key_id}"],
  ["post", "/orgs/{org_id}/keys/{key_id}/revoke"],
  ["post", "/orgs/{org_id}/keys/{key_id}/rotate"],
  ["get", "/orgs/{org_id}/audit"],
  ["get", "/health"],
] as const;

describe("OpenAPI document and docs", () => {
  it("serves an OpenAPI 3.1 document without credentials", async () => {
    const doc = await expectJson<OpenApiDocument>(await gatewayFetch(`${MANAGEMENT}/openapi.json`), 200);
    expect(doc.openapi).toBe("3.1.0");
    expect(doc.info.title).toBe("keygate management API");
  });

  it("documents every management route under the full path", async () => {
    const doc = await expectJson<OpenApiDocument>(await gatewayFetch(`${MANAGEMENT}/openapi.json`), 200);
    for (const [method, path] of SPEC_ROUTES) expect(doc.paths[MANAGEMENT + path]?.[method], `${method} ${path}`).toBeDefined();
  });

  it("declares bearer auth for everything but health", async () => {
    const doc = await expectJson<OpenApiDocument>(await gatewayFetch(`${MANAGEMENT}/openapi.json`), 200);
    expect(doc.components.securitySchemes.bearer).toMatchObject({ type: "http", scheme: "bearer" });
    expect(doc.security).toEqual([{ bearer: [] }]);
    expect(doc.paths[`${MANAGEMENT}/health`]!.get!.security).toEqual([]);
    expect(doc.paths[`${MANAGEMENT}/orgs`]!.post!.security).toEqual([{ bearer: [] }]);
  });

  it("generates the schemas from the same zod definitions the API validates with", async () => {
    const doc = await expectJson<OpenApiDocument>(await gatewayFetch(`${MANAGEMENT}/openapi.json`), 200);
    const key = doc.components.schemas.Key!;
    expect(Object.keys(key.properties!).sort()).toEqual(
      ["id", "name", "identifier", "last4", "scopes", "status", "created_at", "expires_at", "last_used_at", "revoked_at", "rate_limit", "rate_limits", "quota", "rotated_from", "rotated_to", "meta", "enabled", "disabled_at", "allowed_ips", "age_days"].sort(),
    );
    // The create/rotate answer is the Key plus the once-shown `key`.
    expect(doc.components.schemas.CreatedKey!.allOf).toEqual([
      { $ref: "#/components/schemas/Key" },
      expect.objectContaining({ properties: { key: expect.objectContaining({ type: "string" }) }, required: ["key"] }),
    ]);
    expect(doc.components.schemas.Error).toBeDefined();
    expect(doc.components.schemas.CreateKey!.required?.sort()).toEqual(["name", "scopes"]);
    expect(Object.keys(doc.components.schemas.CreateKey!.properties!).sort()).toEqual(["allowed_ips", "expires_at", "expires_in", "meta", "name", "quota", "rate_limit", "rate_limits", "scopes"]);
    const create = doc.paths[`${MANAGEMENT}/orgs/{org_id}/keys`]!.post!;
    expect(Object.keys(create.requestBody!.content)).toEqual(["application/json"]);
    expect(Object.keys(create.responses).sort()).toEqual(["201", "400", "401", "403", "404", "409", "413", "415", "429", "500"]);
  });

  it("serves interactive docs that load this document", async () => {
    const res = await gatewayFetch(`${MANAGEMENT}/docs`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^text\/html/);
    const html = await res.text();
    expect(html).toContain(`${MANAGEMENT}/openapi.json`);
    expect(html).toContain("keygate management API");
  });

  it("serves the docs page's script from this worker, pinned, with a <noscript> link to openapi.json (works offline)", async () => {
    const res = await gatewayFetch(`${MANAGEMENT}/docs`);
    const html = await res.text();
    expect(html).toContain(`<a href="${MANAGEMENT}/openapi.json">`);
    expect(html).toMatch(/<noscript>[\s\S]*openapi\.json[\s\S]*<\/noscript>/);
    const sources = [...html.matchAll(/<script[^>]*src="([^"]+)"/g)].map((m) => m[1]!);
    expect(sources.length).toBeGreaterThan(0);
    // Every script is our own path; nothing from a CDN or any other host.
    for (const src of sources) expect(src.startsWith(`${MANAGEMENT}/docs/`), src).toBe(true);
    expect(html).not.toMatch(/https?:\/\//);
    const csp = res.headers.get("content-security-policy") ?? "";
    expect(csp).toContain("default-src 'self'");
    expect(csp).toContain("script-src 'self'");

    const bundle = sources.find((src) => /scalar-\d+\.\d+\.\d+\.js$/.test(src))!;
    // The URL names the version package.json pins exactly (no range), so a bump changes the URL.
    const pinned = (pkg.dependencies as Record<string, string>)["@scalar/api-reference"];
    expect(pinned).toMatch(/^\d+\.\d+\.\d+$/);
    expect(bundle).toBe(`${MANAGEMENT}/docs/scalar-${pinned}.js`);
    const script = await gatewayFetch(bundle);
    expect(script.status).toBe(200);
    expect(script.headers.get("content-type")).toMatch(/^text\/javascript/);
    expect(await script.text()).toContain("createApiReference");
    const init = await gatewayFetch(`${MANAGEMENT}/docs/init.js`);
    expect(await init.text()).toContain(`${MANAGEMENT}/openapi.json`);
  });
});
