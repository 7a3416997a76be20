import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env, exports } from "cloudflare:workers";
import { describe, expect, it, vi } from "vitest";
import { handleRequest } from "../../src/app";
import type { ErrorEnvelope } from "../../src/errors";
import { seedKey } from "./seed";

const gateway = (path: string, key: string, method = "GET") => exports.default.fetch(`http://gw.test${path}`, { method, headers: { "x-api-key": key } });

// A deployment with its own ROUTES, given as JSON text the way `--var` or the dashboard would.
const REPORT_ROUTES = JSON.stringify([
  { method: "GET", path: "/reports/:id", scopes: ["demo:read"], tiers: ["pro", "enterprise"] },
  { method: ["POST", "PUT"], path: "/reports/:id/notes/*", scopes: ["demo:read", "demo:write"] },
]);
const reportsEnv = { ...env, ROUTES: REPORT_ROUTES };

async function reportsGateway(path: string, key: string, method = "GET"): Promise<Response> {
  const ctx = createExecutionContext();
  const res = await handleRequest(new Request(`http://gw.test${path}`, { method, headers: { "x-api-key": key } }), reportsEnv, ctx);
  await waitOnExecutionContext(ctx);
  return res;
}

describe("route policy through the worker (wrangler.toml ROUTES)", () => {
  it("a key with the rule's scope is proxied", async () => {
    const { key } = await seedKey({ scopes: ["demo:read"] });
    expect((await gateway("/demo/a/b", key)).status).toBe(200);
    expect((await gateway("/demo", key)).status).toBe(200);
  });

  it("a key missing a scope gets 403 insufficient_scope naming the missing scope, and the origin is not called", async () => {
    const { key } = await seedKey({ scopes: ["demo:read"] });
    const res = await gateway("/demo/a", key, "POST");
    expect(res.status).toBe(403);
    expect(res.headers.get("www-authenticate")).toContain('error="insufficient_scope"');
    expect(res.headers.get("x-demo-origin")).toBeNull();
    const body = (await res.json()) as ErrorEnvelope;
    expect(body.error.code).toBe("insufficient_scope");
    expect(body.error.details).toContainEqual({ field: "missing_scopes", message: "demo:write" });
    expect(body.error.details).toContainEqual({ field: "required_scopes", message: "demo:write" });
  });

  it("an admin key may call every route", async () => {
    const { key } = await seedKey({ scopes: ["admin"] });
    expect((await gateway("/demo/a", key, "POST")).status).toBe(200);
    expect((await gateway("/demo/a", key, "DELETE")).status).toBe(200);
  });

  it("a path no rule covers is 404 no_route, even for an admin key", async () => {
    const { key } = await seedKey({ scopes: ["admin"] });
    const res = await gateway("/internal/metrics", key);
    expect(res.status).toBe(404);
    expect(((await res.json()) as ErrorEnvelope).error.code).toBe("no_route");
  });

  it("an unauthenticated caller learns nothing about routes: 401 before 404", async () => {
    const res = await exports.default.fetch("http://gw.test/internal/metrics");
    expect(res.status).toBe(401);
  });

  it("a doubled slash or encoded letter cannot dodge a rule", async () => {
    const { key } = await seedKey({ scopes: ["demo:read"] });
    expect((await gateway("/demo//a", key, "POST")).status).toBe(403);
    // A leading // is refused outright (SPEC §9): an origin's URL parser would read a host there.
    expect((await gateway("//demo/a", key, "POST")).status).toBe(400);
    expect((await gateway("/%64emo/a", key, "POST")).status).toBe(403);
  });
});

describe("route policy with tiers and :params (ROUTES as JSON)", () => {
  it("a tier the rule does not list gets 403 tier_not_entitled", async () => {
    const { key } = await seedKey({ tier: "free", scopes: ["demo:read"] });
    const res = await reportsGateway("/reports/7", key);
    expect(res.status).toBe(403);
    expect(((await res.json()) as ErrorEnvelope).error.code).toBe("tier_not_entitled");
  });

  it("a listed tier is proxied", async () => {
    const { key } = await seedKey({ tier: "pro", scopes: ["demo:read"] });
    const res = await reportsGateway("/reports/7", key);
    expect(res.status).toBe(200);
    expect(((await res.json()) as { path: string }).path).toBe("/reports/7");
  });

  it(":param matches one segment only; a longer path falls through to no_route", async () => {
    const { key } = await seedKey({ tier: "pro", scopes: ["admin"] });
    expect((await reportsGateway("/reports/7/extra", key)).status).toBe(404);
  });

  it("a method list admits its methods only, and needs all listed scopes", async () => {
    const both = await seedKey({ scopes: ["demo:read", "demo:write"] });
    expect((await reportsGateway("/reports/7/notes/1", both.key, "PUT")).status).toBe(200);
    expect((await reportsGateway("/reports/7/notes/1", both.key, "DELETE")).status).toBe(404);
    const readOnly = await seedKey({ scopes: ["demo:read"] });
    expect((await reportsGateway("/reports/7/notes/1", readOnly.key, "POST")).status).toBe(403);
  });
});

describe("a broken ROUTES config", () => {
  it("answers 500 gateway_misconfigured for every request, naming the bad field in the log only", async (context) => {
    const logged = vi.spyOn(console, "error").mockImplementation(() => undefined);
    context.onTestFinished(() => logged.mockRestore());
    const { key } = await seedKey({ scopes: ["admin"] });
    const ctx = createExecutionContext();
    const broken = { ...env, ROUTES: JSON.stringify([{ method: "GET", path: "/files/*.json", scopes: [] }]) };
    const res = await handleRequest(new Request("http://gw.test/files/a.json", { headers: { "x-api-key": key } }), broken, ctx);
    await waitOnExecutionContext(ctx);
    expect(res.status).toBe(500);
    const body = (await res.json()) as ErrorEnvelope;
    expect(body.error.code).toBe("gateway_misconfigured");
    expect(JSON.stringify(body)).not.toContain("ROUTES");
    expect(logged.mock.calls.flat().join("\n")).toContain("ROUTES[1].path");
  });
});

