// CORS for browser callers (issue 14), as a browser sees it.
import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { handleRequest } from "../../src/app";
import type { Env } from "../../src/env";
import { createKey, createOrg, gatewayFetch, keyFetch } from "../harness";
import { expectError } from "../management/support";

const APP = "http://localhost:5173"; // allowed by wrangler.toml's demo [vars.CORS]

/** Through the worker with a CORS var of its own (and its own parsed config). */
async function withCorsVar(cors: unknown, path: string, init: RequestInit): Promise<Response> {
  const ctx = createExecutionContext();
  const res = await handleRequest(new Request(`http://gw.test${path}`, init), { ...env, CORS: cors === undefined ? undefined : JSON.stringify(cors) } as Env, ctx);
  await waitOnExecutionContext(ctx);
  return res;
}

const preflight = (origin: string, method: string, extra: Record<string, string> = {}) => ({
  method: "OPTIONS",
  headers: { origin, "access-control-request-method": method, "access-control-request-headers": "authorization", ...extra },
});

const corsHeaders = (res: Response) => [...res.headers].filter(([name]) => name.startsWith("access-control-"));

describe("preflight", () => {
  it("from an allowed origin, for a method a route allows, is answered 204 by the gateway without a key", async () => {
    const res = await gatewayFetch("/demo/items", preflight(APP, "POST"));
    expect(res.status).toBe(204);
    expect(res.headers.get("access-control-allow-origin")).toBe(APP);
    expect(res.headers.get("access-control-allow-methods")).toBe("POST");
    expect(res.headers.get("access-control-allow-headers")).toBe("Authorization, X-API-Key, Content-Type");
    expect(res.headers.get("access-control-max-age")).toBe("600");
    expect(res.headers.get("access-control-allow-credentials")).toBeNull();
    expect(res.headers.get("vary")).toBe("Origin");
    expect(await res.text()).toBe("");
  });

  it("for a path no route allows the method on, is not answered: it reaches the gateway like any keyless request", async () => {
    const res = await gatewayFetch("/nothing-here", preflight(APP, "GET"));
    await expectError(res, 401, "missing_credentials");
    expect(res.headers.get("access-control-allow-methods")).toBeNull();
  });

  it.each(["/demo/a%2Fb", "/demo/x/..;/y", "/demo/%zz"])("for a path the gateway refuses (%s), is not answered 204: it gets the gateway's 400 invalid_path", async (path) => {
    const res = await gatewayFetch(path, preflight(APP, "GET"));
    expect(res.headers.get("access-control-allow-methods")).toBeNull();
    await expectError(res, 400, "invalid_path");
  });

  it.each(["", "GET, POST", " GET x", "X".repeat(100)])("with an Access-Control-Request-Method that is not one method token (%j), is not answered and nothing is echoed", async (method) => {
    const res = await gatewayFetch("/demo/items", preflight(APP, method));
    expect(res.headers.get("access-control-allow-methods")).toBeNull();
    await expectError(res, 401, "missing_credentials");
  });

  it("from a disallowed origin gets no CORS headers at all", async () => {
    const res = await gatewayFetch("/demo/items", preflight("https://evil.example", "GET"));
    expect(res.status).toBe(401);
    expect(corsHeaders(res)).toEqual([]);
  });

  it("follows the configured methods, headers, max_age and credentials", async () => {
    const cors = { origins: ["https://*.example.com"], methods: ["GET", "HEAD"], headers: ["Authorization", "X-Trace"], max_age: 60, credentials: true };
    const ok = await withCorsVar(cors, "/demo/items", preflight("https://app.eu.example.com", "GET"));
    expect(ok.status).toBe(204);
    expect(ok.headers.get("access-control-allow-origin")).toBe("https://app.eu.example.com");
    expect(ok.headers.get("access-control-allow-methods")).toBe("GET, HEAD");
    expect(ok.headers.get("access-control-allow-headers")).toBe("Authorization, X-Trace");
    expect(ok.headers.get("access-control-max-age")).toBe("60");
    expect(ok.headers.get("access-control-allow-credentials")).toBe("true");
    // A method the routes allow but CORS.methods does not.
    expect((await withCorsVar(cors, "/demo/items", preflight("https://app.example.com", "POST"))).status).toBe(401);
    // The apex and look-alikes are not subdomains.
    for (const origin of ["https://example.com", "https://evil-example.com", "https://app.example.com.evil.test", "http://app.example.com", "https://app.example.com:8443"]) {
      const res = await withCorsVar(cors, "/demo/items", preflight(origin, "GET"));
      expect(res.status, origin).toBe(401);
      expect(corsHeaders(res), origin).toEqual([]);
    }
  });

  it("headers = ['*'] still lets a key through: Authorization, which the wildcard does not cover, is named beside it", async () => {
    const res = await withCorsVar({ origins: [APP], headers: ["*"] }, "/demo/items", preflight(APP, "GET"));
    expect(res.status).toBe(204);
    expect(res.headers.get("access-control-allow-headers")).toBe("*, Authorization");
  });

  it("with '*' answers any origin with Access-Control-Allow-Origin: *", async () => {
    const res = await withCorsVar({ origins: ["*"] }, "/demo/items", preflight("https://anyone.example", "GET"));
    expect(res.status).toBe(204);
    expect(res.headers.get("access-control-allow-origin")).toBe("*");
  });
});

describe("actual requests", () => {
  it("a proxied response to an allowed origin carries Allow-Origin and exposes the rate-limit headers", async () => {
    const { id } = await createOrg();
    const { key } = await createKey(id);
    const res = await keyFetch(key, "/demo/items", { headers: { origin: APP } });
    expect(res.status).toBe(200);
    expect(res.headers.get("access-control-allow-origin")).toBe(APP);
    const exposed = res.headers.get("access-control-expose-headers")!.split(", ");
    for (const name of ["RateLimit", "RateLimit-Policy", "X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset", "Retry-After"]) expect(exposed).toContain(name);
    expect(res.headers.get("vary")).toContain("Origin");
    expect(res.headers.get("x-ratelimit-limit")).not.toBeNull();
  });

  it("an error response to an allowed origin carries Allow-Origin too, so the page can read the envelope", async () => {
    const res = await gatewayFetch("/demo/items", { headers: { origin: APP } });
    expect(res.headers.get("access-control-allow-origin")).toBe(APP);
    await expectError(res, 401, "missing_credentials");
    const { id } = await createOrg();
    const { key } = await createKey(id, { scopes: ["demo:read"] });
    const refused = await keyFetch(key, "/demo/items", { method: "POST", headers: { origin: APP } });
    expect(refused.headers.get("access-control-allow-origin")).toBe(APP);
    await expectError(refused, 403, "insufficient_scope");
  });

  it("a disallowed origin gets no CORS headers on a proxied response, even ones the origin server sent", async () => {
    const { id } = await createOrg();
    const { key } = await createKey(id);
    const res = await keyFetch(key, "/demo/cors", { headers: { origin: "https://evil.example" } });
    expect(res.status).toBe(200);
    expect(corsHeaders(res)).toEqual([]);
  });

  it("a 429 to an allowed origin carries Allow-Origin and lets the page read Retry-After and the budget", async () => {
    const { id } = await createOrg();
    const { key } = await createKey(id, { rate_limit: { limit: 1, window: "1h" } });
    expect((await keyFetch(key, "/demo/items", { headers: { origin: APP } })).status).toBe(200);
    const res = await keyFetch(key, "/demo/items", { headers: { origin: APP } });
    expect(res.headers.get("access-control-allow-origin")).toBe(APP);
    const exposed = res.headers.get("access-control-expose-headers")!.split(", ");
    for (const name of ["Retry-After", "RateLimit", "X-RateLimit-Remaining"]) {
      expect(exposed).toContain(name);
      expect(res.headers.get(name), name).not.toBeNull();
    }
    await expectError(res, 429, "rate_limited");
  });

  it("credentials: true adds Allow-Credentials to actual responses", async () => {
    const res = await withCorsVar({ origins: [APP], credentials: true }, "/demo/items", { headers: { origin: APP } });
    expect(res.status).toBe(401);
    expect(res.headers.get("access-control-allow-credentials")).toBe("true");
  });
});

describe("the gateway owns CORS once it is set", () => {
  it("an origin server's own Access-Control-* headers never reach the browser: removed for disallowed origins and requests without one, replaced for allowed ones", async () => {
    const { id } = await createOrg();
    const { key } = await createKey(id);
    // /demo/cors answers like an origin whose CORS middleware allows anyone, with credentials.
    for (const headers of [{ origin: "https://evil.example" }, {}] as Record<string, string>[]) {
      const res = await keyFetch(key, "/demo/cors", { headers });
      expect(res.status).toBe(200);
      expect(corsHeaders(res), JSON.stringify(headers)).toEqual([]);
    }
    const allowed = await keyFetch(key, "/demo/cors", { headers: { origin: APP } });
    expect(corsHeaders(allowed).map(([name]) => name).sort()).toEqual(["access-control-allow-origin", "access-control-expose-headers"]);
    expect(allowed.headers.get("access-control-allow-origin")).toBe(APP);
    expect(allowed.headers.get("access-control-expose-headers")).not.toContain("*");
  });

  it("every answer varies on Origin, also to a request without one, so no cache hands a browser page an answer made without CORS headers", async () => {
    const { id } = await createOrg();
    const { key } = await createKey(id);
    const vary = (res: Response) => (res.headers.get("vary") ?? "").split(",").map((v) => v.trim().toLowerCase());
    expect(vary(await keyFetch(key, "/demo/items"))).toContain("origin");
    expect(vary(await gatewayFetch("/demo/items"))).toContain("origin");
    // The origin server's own Vary is kept, and Origin is named once.
    expect(vary(await keyFetch(key, "/demo/cors"))).toEqual(["accept-encoding", "origin"]);
    expect(vary(await keyFetch(key, "/demo/cors", { headers: { origin: APP } }))).toEqual(["accept-encoding", "origin"]);
  });

  it("with '*' every answer carries Access-Control-Allow-Origin: *, with or without an Origin, and needs no Vary", async () => {
    for (const headers of [{}, { origin: "https://anyone.example" }] as Record<string, string>[]) {
      const res = await withCorsVar({ origins: ["*"] }, "/demo/items", { headers });
      expect(res.status).toBe(401);
      expect(res.headers.get("access-control-allow-origin"), JSON.stringify(headers)).toBe("*");
      expect(res.headers.get("access-control-expose-headers")).toContain("WWW-Authenticate");
    }
  });
});

describe("without CORS", () => {
  it("nothing changes: a preflight is a keyless request and no response gains CORS headers", async () => {
    const res = await withCorsVar(undefined, "/demo/items", preflight(APP, "GET"));
    expect(res.status).toBe(401);
    expect(corsHeaders(res)).toEqual([]);
    expect(res.headers.get("vary")).toBeNull();
  });

  it("an origin server's own CORS headers pass through untouched", async () => {
    const { id } = await createOrg();
    const { key } = await createKey(id);
    const ctx = createExecutionContext();
    const res = await handleRequest(new Request("http://gw.test/demo/cors", { headers: { origin: APP, "x-api-key": key } }), { ...env, CORS: undefined } as Env, ctx);
    await waitOnExecutionContext(ctx);
    expect(res.status).toBe(200);
    expect(res.headers.get("access-control-allow-origin")).toBe("*");
    expect(res.headers.get("access-control-max-age")).toBe("86400");
  });
});
