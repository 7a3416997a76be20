import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env, exports } from "cloudflare:workers";
import { describe, expect, it, vi } from "vitest";
import { handleRequest } from "../../src/app";
import type { Env } from "../../src/env";
import { KeygateSignatureError, verifyKeygateRequest } from "keygate/origin";
import { seedKey } from "./seed";

interface Echo {
  method: string;
  path: string;
  query: Record<string, string>;
  headers: Record<string, string>;
  body: string | null;
  body_bytes: number;
  body_sha256: string;
}

const gateway = (path: string, init?: RequestInit) => exports.default.fetch(`http://gw.test${path}`, init);

/** One request through the worker with some vars changed, as a redeploy with other [vars] would. */
async function gatewayWith(overrides: Partial<Env>, path: string, init?: RequestInit): Promise<Response> {
  const ctx = createExecutionContext();
  const res = await handleRequest(new Request(`http://gw.test${path}`, init), { ...env, ...overrides }, ctx);
  await waitOnExecutionContext(ctx);
  return res;
}

async function errorCode(res: Response): Promise<string> {
  return ((await res.json()) as { error: { code: string } }).error.code;
}

describe("the request reaches the origin as sent", () => {
  it("keeps method, path, query and body", async () => {
    const { key } = await seedKey();
    const res = await gateway("/demo/items/42?expand=owner&tag=a%20b", { method: "PUT", headers: { "x-api-key": key, "content-type": "text/plain" }, body: "hello origin" });
    expect(res.status).toBe(200);
    const echo = (await res.json()) as Echo;
    expect(echo.method).toBe("PUT");
    expect(echo.path).toBe("/demo/items/42");
    expect(echo.query).toEqual({ expand: "owner", tag: "a b" });
    expect(echo.body).toBe("hello origin");
    expect(echo.headers["content-type"]).toBe("text/plain");
  });

  it("HEAD and DELETE pass through with their method", async () => {
    const { key } = await seedKey();
    const head = await gateway("/demo/x", { method: "HEAD", headers: { "x-api-key": key } });
    expect(head.status).toBe(200);
    expect(head.headers.get("x-demo-origin")).toBe("keygate");
    const del = await gateway("/demo/x", { method: "DELETE", headers: { "x-api-key": key } });
    expect(((await del.json()) as Echo).method).toBe("DELETE");
  });
});

describe("GET and HEAD with Content-Length: 0 carry no body (RFC 9110 §8.6)", () => {
  it.each(["GET", "HEAD"])("%s with Content-Length: 0 is proxied, not refused as a request with a body", async (method) => {
    const { key } = await seedKey();
    const res = await gateway("/demo/items", { method, headers: { "x-api-key": key, "content-length": "0" } });
    expect(res.status).toBe(200);
    expect(res.headers.get("x-demo-origin")).toBe("keygate");
    if (method === "GET") expect(((await res.json()) as Echo).body_bytes).toBe(0);
  });

  it("and is signed like any bodyless GET when ORIGIN_SIGNING_SECRET is set", async () => {
    const secret = "origin-signing-secret-for-tests-01";
    const { key } = await seedKey();
    const res = await gatewayWith({ ORIGIN_SIGNING_SECRET: secret }, "/demo/items", { headers: { "x-api-key": key, "content-length": "0" } });
    expect(res.status).toBe(200);
    const echo = (await res.json()) as Echo;
    expect(await verifyKeygateRequest(new Request(`http://origin.test${echo.path}`, { headers: echo.headers }), secret)).toMatchObject({ bodySigned: true });
  });

  it("a GET with a non-empty body is still 400 invalid_request", async () => {
    const { key } = await seedKey();
    const res = await gateway("/demo/items", { headers: { "x-api-key": key, "content-length": "3" } });
    expect(res.status).toBe(400);
    expect(await errorCode(res)).toBe("invalid_request");
  });
});

describe("headers the origin sees", () => {
  it("has no credentials, no hop-by-hop fields, no client-sent X-Keygate-*, and the gateway's identity and X-Forwarded-*", async () => {
    const { key, id, orgId } = await seedKey({ tier: "pro", scopes: ["demo:read", "demo:write"] });
    const res = await gateway("/demo/echo", {
      headers: {
        authorization: `Bearer ${key}`,
        "x-api-key": key,
        connection: "x-hop-secret",
        "x-hop-secret": "must not pass",
        "keep-alive": "timeout=5",
        "proxy-authorization": "Basic Zm9vOmJhcg==",
        te: "trailers",
        upgrade: "h2c",
        "x-keygate-org-id": "org_forged",
        "x-keygate-scopes": "admin",
        "x-keygate-signature": "t=1,v1=forged",
        "cf-connecting-ip": "203.0.113.7",
        "x-forwarded-for": "198.51.100.1",
        "x-real-ip": "198.51.100.2",
        "true-client-ip": "198.51.100.3",
        forwarded: "for=198.51.100.4",
        "x-request-id": "req-123",
      },
    });
    expect(res.status).toBe(200);
    const { headers } = (await res.json()) as Echo;
    const names = Object.keys(headers);
    for (const banned of ["authorization", "x-api-key", "x-hop-secret", "keep-alive", "proxy-authorization", "te", "upgrade", "x-keygate-signature"]) {
      expect(names).not.toContain(banned);
    }
    expect(JSON.stringify(headers)).not.toContain(key);
    expect(headers["x-keygate-org-id"]).toBe(orgId);
    expect(headers["x-keygate-key-id"]).toBe(id);
    expect(headers["x-keygate-scopes"]).toBe("demo:read demo:write");
    expect(headers["x-keygate-tier"]).toBe("pro");
    // The client IP comes from CF-Connecting-IP only; the client's own claims are dropped (issue 18.5).
    expect(headers["x-forwarded-for"]).toBe("203.0.113.7");
    for (const spoofed of ["x-real-ip", "true-client-ip", "forwarded"]) expect(names).not.toContain(spoofed);
    expect(headers["x-forwarded-proto"]).toBe("http");
    expect(headers["x-forwarded-host"]).toBe("gw.test");
    // Replaced by the gateway's own id: origins use it against replays, so a client must not choose it.
    expect(headers["x-request-id"]).toMatch(/^[0-9a-f-]{36}$/);
  });

  it("drops every header with which an origin framework would re-read the request as another path or method", async () => {
    // A demo:read key asks for GET /demo/x; IIS/Symfony would serve X-Original-URL, Express/Rails run the override method.
    const { key } = await seedKey({ scopes: ["demo:read"] });
    const rewrites = {
      "x-original-url": "/admin/users",
      "x-original-uri": "/admin/users",
      "x-rewrite-url": "/admin/users",
      "x-override-url": "/admin/users",
      "x-http-method-override": "DELETE",
      "x-http-method": "DELETE",
      "x-method-override": "DELETE",
      "x-host": "internal.example",
      "x-original-host": "internal.example",
      "x-forwarded-prefix": "/evil",
      "x-forwarded-path": "/admin",
      "x-forwarded-uri": "/admin",
      "x-forwarded-port": "8443",
      "x-forwarded-server": "internal.example",
      "x-forwarded-scheme": "https",
      "x-forwarded-host": "evil.example",
      "x-forwarded-proto": "https",
    };
    const res = await gateway("/demo/x", { headers: { "x-api-key": key, ...rewrites } });
    expect(res.status).toBe(200);
    const echo = (await res.json()) as Echo;
    expect(echo.method).toBe("GET");
    expect(echo.path).toBe("/demo/x");
    const names = Object.keys(echo.headers);
    for (const name of Object.keys(rewrites).filter((n) => n !== "x-forwarded-host" && n !== "x-forwarded-proto")) expect(names, name).not.toContain(name);
    // The gateway's own values, never the client's.
    expect(echo.headers["x-forwarded-host"]).toBe("gw.test");
    expect(echo.headers["x-forwarded-proto"]).toBe("http");
  });

  it.each(["/demo/x?_method=DELETE", "/demo/x?a=1&_method=delete", "/demo/x?%5Fmethod=PUT", "/demo/x?.method=PUT", "/demo/x?+method=PUT", "/demo/x?_method"])("a method override in the query (%s) is 400 invalid_request, the origin not called", async (path) => {
    const { key } = await seedKey({ scopes: ["demo:read", "demo:write"] });
    const res = await gateway(path, { method: "POST", headers: { "x-api-key": key }, body: "x" });
    expect(res.status).toBe(400);
    expect(res.headers.get("x-demo-origin")).toBeNull();
    expect(await errorCode(res)).toBe("invalid_request");
  });

  it("a query parameter that merely contains _method is forwarded", async () => {
    const { key } = await seedKey();
    const res = await gateway("/demo/x?payment_method=card&x_method=1&METHOD=a", { headers: { "x-api-key": key } });
    expect(res.status).toBe(200);
    expect(((await res.json()) as Echo).query).toEqual({ payment_method: "card", x_method: "1", METHOD: "a" });
  });

  it("carries a signature the origin can verify with keygate/origin when ORIGIN_SIGNING_SECRET is set", async () => {
    const secret = "origin-signing-secret-for-tests-01";
    const { key, id, orgId } = await seedKey({ scopes: ["demo:write"] });
    const res = await gatewayWith({ ORIGIN_SIGNING_SECRET: secret }, "/demo/orders?limit=5", { method: "POST", headers: { "x-api-key": key }, body: '{"amount":1}' });
    expect(res.status).toBe(200);
    const echo = (await res.json()) as Echo;
    expect(echo.headers["x-keygate-signature"]).toMatch(/^t=\d+,v2=[0-9a-f]{64}$/);
    // The request exactly as the demo origin received it.
    const received = (overrides: { headers?: Record<string, string>; body?: string } = {}) =>
      new Request(`http://origin.test${echo.path}?limit=5`, { method: echo.method, headers: overrides.headers ?? echo.headers, body: overrides.body ?? echo.body });
    expect(await verifyKeygateRequest(received(), secret)).toMatchObject({ orgId, keyId: id, scopes: ["demo:write"], tier: "free", bodySigned: true });
    const refused = (request: Request, withSecret = secret) => verifyKeygateRequest(request, withSecret).then(() => "accepted", (err: KeygateSignatureError) => err.code);
    expect(await refused(received(), "some-other-secret-0123456789")).toBe("signature_mismatch");
    expect(await refused(received({ headers: { ...echo.headers, "x-keygate-scopes": "admin" } }))).toBe("signature_mismatch");
    expect(await refused(received({ body: '{"amount":1000000}' }))).toBe("body_digest_mismatch");
  });

  it("carries no signature when no secret is configured", async () => {
    const { key } = await seedKey();
    const echo = (await (await gateway("/demo/echo", { headers: { "x-api-key": key } })).json()) as Echo;
    expect(echo.headers["x-keygate-signature"]).toBeUndefined();
  });
});

describe("the origin's response comes back unchanged", () => {
  it.each([201, 204, 404, 418, 500, 503])("status %i with its headers and body", async (status) => {
    const { key } = await seedKey();
    const res = await gateway(`/demo/status/${status}`, { headers: { "x-api-key": key } });
    expect(res.status).toBe(status);
    expect(res.headers.get("x-demo-status")).toBe(String(status));
    // ...plus only the gateway's rate-limit headers.
    expect(res.headers.get("ratelimit-policy")).toMatch(/^"default";q=60;w=60/);
    expect(res.headers.get("x-ratelimit-limit")).toBe("60");
    if (status === 204) expect(await res.text()).toBe("");
    else expect(await res.json()).toEqual({ status });
  });

  it("a redirect is handed to the client, not followed", async () => {
    const { key } = await seedKey();
    const res = await gateway("/demo/status/302", { headers: { "x-api-key": key }, redirect: "manual" });
    expect(res.status).toBe(302);
    expect(res.headers.get("location")).toBe("/demo/moved");
  });
});

const MB = 1024 * 1024;
const CHUNK = 64 * 1024;

/** SHA-256 (hex) of a byte stream, computed as it flows: Workers' DigestStream. */
async function sha256Of(stream: ReadableStream<Uint8Array>): Promise<{ hex: string; bytes: number }> {
  const digest = new crypto.DigestStream("SHA-256");
  await stream.pipeTo(digest);
  const hex = [...new Uint8Array(await digest.digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
  return { hex, bytes: Number(digest.bytesWritten) };
}

/** A deterministic body of `totalBytes`, produced chunk by chunk so the client never holds it whole. */
function generatedBody(totalBytes: number): ReadableStream<Uint8Array> {
  let sent = 0;
  let index = 0;
  return new ReadableStream<Uint8Array>({
    pull(controller) {
      if (sent >= totalBytes) return controller.close();
      const chunk = new Uint8Array(Math.min(CHUNK, totalBytes - sent)).fill(index++ % 251);
      sent += chunk.byteLength;
      controller.enqueue(chunk);
    },
  });
}

describe("large bodies stream through both ways", () => {
  it("a 20 MB upload reaches the origin complete", async () => {
    const { key } = await seedKey();
    const expected = await sha256Of(generatedBody(20 * MB));
    const res = await gateway("/demo/upload", { method: "POST", headers: { "x-api-key": key, "content-type": "application/octet-stream" }, body: generatedBody(20 * MB) });
    expect(res.status).toBe(200);
    const echo = (await res.json()) as Echo;
    expect(echo.body_bytes).toBe(20 * MB);
    expect(echo.body_sha256).toBe(expected.hex);
  });

  it("a 20 MB download reaches the client complete", async () => {
    const { key } = await seedKey();
    const res = await gateway(`/demo/bytes/${20 * MB}`, { headers: { "x-api-key": key } });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-length")).toBe(String(20 * MB));
    const received = await sha256Of(res.body!);
    const expected = await sha256Of(new Blob([new Uint8Array(20 * MB).fill(0x61)]).stream());
    expect(received).toEqual(expected);
    expect(received.bytes).toBe(20 * MB);
  });
});

describe("origin failures answer in the error envelope", () => {
  it("an origin that accepts no connection: 502 origin_unreachable, and the operator's log says why", async (context) => {
    const logged = vi.spyOn(console, "error").mockImplementation(() => undefined);
    context.onTestFinished(() => logged.mockRestore());
    const { key } = await seedKey();
    const res = await gatewayWith({ ORIGIN_URL: "http://127.0.0.1:1" }, "/demo/x", { headers: { "x-api-key": key } });
    expect(res.status).toBe(502);
    expect(await errorCode(res)).toBe("origin_unreachable");
    expect(logged).toHaveBeenCalledWith("keygate: origin unreachable", expect.any(String));
    // The request was counted before the origin failed, so the client still sees its budget.
    expect(res.headers.get("x-ratelimit-remaining")).toBe("59");
  });

  it("an origin slower than ORIGIN_TIMEOUT_MS: 504 origin_timeout", async () => {
    const { key } = await seedKey();
    const res = await gatewayWith({ ORIGIN_TIMEOUT_MS: "300" }, "/demo/slow/3000", { headers: { "x-api-key": key } });
    expect(res.status).toBe(504);
    expect(await errorCode(res)).toBe("origin_timeout");
  });

  it("an origin within the timeout answers normally", async () => {
    const { key } = await seedKey();
    const res = await gatewayWith({ ORIGIN_TIMEOUT_MS: "5000" }, "/demo/slow/50", { headers: { "x-api-key": key } });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ slept_ms: 50 });
  });
});

describe("rate limit in the hot path", () => {
  it("a key over its limit gets 429 rate_limited with Retry-After, and the origin is not called", async () => {
    const { key } = await seedKey();
    const tight = { ...env, TIERS: JSON.stringify({ free: { limit: 2, window: "60s" } }) };
    const call = async () => {
      const ctx = createExecutionContext();
      const res = await handleRequest(new Request("http://gw.test/demo/x", { headers: { "x-api-key": key } }), tight, ctx);
      await waitOnExecutionContext(ctx);
      return res;
    };
    expect((await call()).status).toBe(200);
    const second = await call();
    expect(second.status).toBe(200);
    expect(second.headers.get("x-ratelimit-remaining")).toBe("0");
    const third = await call();
    expect(third.status).toBe(429);
    expect(Number(third.headers.get("retry-after"))).toBeGreaterThan(0);
    expect(third.headers.get("x-demo-origin")).toBeNull();
    expect(await errorCode(third)).toBe("rate_limited");
  });
});
