// Requests no fetch() can build, sent as raw bytes to a real `npm start` gateway: a GET or HEAD with
// a body (issue 18.4) and request-targets a URL library would tidy up before sending (issue 18.1).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startGateway, type LocalGateway } from "./npm-start.ts";
import { rawRequest, type RawResponse } from "./wire.ts";

let gateway: LocalGateway;
let key: string;

beforeAll(async () => {
  gateway = await startGateway();
  const admin = (path: string, body: unknown) =>
    fetch(`${gateway.url}/_keygate/v1${path}`, { method: "POST", headers: { authorization: `Bearer ${gateway.token}`, "content-type": "application/json" }, body: JSON.stringify(body) }).then((res) => res.json() as Promise<{ data: { id: string; key: string } }>);
  const org = await admin("/orgs", { name: "wire test org", tier: "pro" });
  key = (await admin(`/orgs/${org.data.id}/keys`, { name: "wire", scopes: ["demo:read"] })).data.key;
}, 180_000);

afterAll(async () => {
  await gateway?.stop();
});

const raw = (lines: string[], body = ""): Promise<RawResponse> => rawRequest(gateway.url, lines, body);

const host = () => `Host: ${new URL(gateway.url).host}`;

describe("GET and HEAD with a body (issue 18.4)", () => {
  it.each(["GET", "HEAD"])("%s with Content-Length and a body: 400 invalid_request, not a 5xx blamed on the origin", async (method) => {
    const res = await raw([`${method} /demo/items HTTP/1.1`, host(), `X-API-Key: ${key}`, "Content-Length: 5"], "hello");
    expect(res.status).toBe(400);
    expect(res.head).not.toMatch(/x-demo-origin/i);
    if (method === "GET") expect(JSON.parse(res.body.slice(res.body.indexOf("{"), res.body.lastIndexOf("}") + 1)).error.code).toBe("invalid_request");
  });

  it.each(["GET", "HEAD"])("%s with Content-Length: 0 has no body: proxied, not refused", async (method) => {
    const res = await raw([`${method} /demo/items HTTP/1.1`, host(), `X-API-Key: ${key}`, "Content-Length: 0"]);
    expect(res.status).toBe(200);
    expect(res.head).toMatch(/x-demo-origin: keygate/i);
  });

  it("GET with a chunked body: never a 5xx; refused, or (as local workerd does) the body is dropped before the worker", async () => {
    const res = await raw(["GET /demo/items HTTP/1.1", host(), `X-API-Key: ${key}`, "Transfer-Encoding: chunked"], "5\r\nhello\r\n0\r\n\r\n");
    if (res.status === 400) return expect(res.body).toContain("invalid_request");
    expect(res.status).toBe(200);
    expect(res.body).toContain('"body_bytes":0');
  });

  it("GET with Content-Length: 0 is an ordinary GET and reaches the origin", async () => {
    const res = await raw(["GET /demo/items HTTP/1.1", host(), `X-API-Key: ${key}`, "Content-Length: 0"]);
    expect(res.status).toBe(200);
    expect(res.head).toMatch(/x-demo-origin: keygate/i);
  });
});

describe("request-targets as sent on the wire (issue 18.1)", () => {
  it("GET //demo/internal/secret: 400 invalid_path, the origin never called", async () => {
    const res = await raw(["GET //demo/internal/secret HTTP/1.1", host(), `X-API-Key: ${key}`]);
    expect(res.status).toBe(400);
    expect(res.body).toContain("invalid_path");
    expect(res.head).not.toMatch(/x-demo-origin/i);
  });

  it("dot segments and backslashes are resolved before matching, and the origin receives the resolved path", async () => {
    const res = await raw(["GET /demo/x/%2e%2E/y\\z HTTP/1.1", host(), `X-API-Key: ${key}`]);
    expect(res.status).toBe(200);
    expect(res.body).toContain('"path":"/demo/y/z"');
  });

  it("dot segments cannot climb out of the rule: /demo/../secret is matched as /secret (no rule: 404)", async () => {
    const res = await raw(["GET /demo/../secret HTTP/1.1", host(), `X-API-Key: ${key}`]);
    expect(res.status).toBe(404);
    expect(res.body).toContain("no_route");
    expect(res.head).not.toMatch(/x-demo-origin/i);
  });
});

describe("what a hostile request-line or header set cannot make the origin do (gw audit)", () => {
  it("..; is refused 400 invalid_path: Tomcat/Spring would resolve it as a dot segment", async () => {
    const res = await raw(["GET /demo/x/..;/secret HTTP/1.1", host(), `X-API-Key: ${key}`]);
    expect(res.status).toBe(400);
    expect(res.body).toContain("invalid_path");
    expect(res.head).not.toMatch(/x-demo-origin/i);
  });

  it("X-Original-URL, X-HTTP-Method-Override and a client's X-Forwarded-Prefix never reach the origin", async () => {
    const res = await raw(["GET /demo/items HTTP/1.1", host(), `X-API-Key: ${key}`, "X-Original-URL: /admin", "X-HTTP-Method-Override: DELETE", "X-Forwarded-Prefix: /evil"]);
    expect(res.status).toBe(200);
    expect(res.body).toContain('"path":"/demo/items"');
    expect(res.body).not.toMatch(/x-original-url|x-http-method-override|x-forwarded-prefix/i);
  });

  it("a key in the query is 400 invalid_request, and never reaches the origin", async () => {
    const res = await raw([`GET /demo/items?api_key=${key} HTTP/1.1`, host(), `X-API-Key: ${key}`]);
    expect(res.status).toBe(400);
    expect(res.body).toContain("invalid_request");
    expect(res.head).not.toMatch(/x-demo-origin/i);
  });

  it("two different keys in repeated X-API-Key fields: 400 conflicting_credentials", async () => {
    // Another key: its last character changed (a key ending in "x" once made this the same key, 1 run in 62).
    const other = key.slice(0, -1) + (key.endsWith("x") ? "y" : "x");
    const res = await raw(["GET /demo/items HTTP/1.1", host(), `X-API-Key: ${key}`, `X-API-Key: ${other}`]);
    expect(res.status).toBe(400);
    expect(res.body).toContain("conflicting_credentials");
  });
});

describe("browsers and restricted keys on the wire (the demo config's CORS, wrangler dev's CF-Connecting-IP)", () => {
  const APP = "http://localhost:5173"; // wrangler.toml's demo [vars.CORS]
  const header = (res: RawResponse, name: string) => new RegExp(`^${name}: (.*)$`, "im").exec(res.head)?.[1]?.trim() ?? null;
  const newKey = async (allowedIps: string[]) => {
    const admin = (path: string, body: unknown) =>
      fetch(`${gateway.url}/_keygate/v1${path}`, { method: "POST", headers: { authorization: `Bearer ${gateway.token}`, "content-type": "application/json" }, body: JSON.stringify(body) }).then((res) => res.json() as Promise<{ data: { id: string; key: string } }>);
    const org = await admin("/orgs", { name: "wire restricted org", tier: "pro" });
    return (await admin(`/orgs/${org.data.id}/keys`, { name: "restricted", scopes: ["demo:read"], allowed_ips: allowedIps })).data.key;
  };

  it("a preflight from the allowed origin is answered 204 without a key; the real request carries Allow-Origin; every answer varies on Origin", async () => {
    const pre = await raw(["OPTIONS /demo/items HTTP/1.1", host(), `Origin: ${APP}`, "Access-Control-Request-Method: GET", "Access-Control-Request-Headers: authorization"]);
    expect(pre.status).toBe(204);
    expect(header(pre, "access-control-allow-origin")).toBe(APP);
    expect(header(pre, "access-control-allow-headers")).toContain("Authorization");
    expect(pre.head).not.toMatch(/x-demo-origin/i);
    const real = await raw(["GET /demo/items HTTP/1.1", host(), `Origin: ${APP}`, `Authorization: Bearer ${key}`]);
    expect(real.status).toBe(200);
    expect(header(real, "access-control-allow-origin")).toBe(APP);
    expect(header(real, "access-control-expose-headers")).toContain("RateLimit");
    const plain = await raw(["GET /demo/items HTTP/1.1", host(), `Authorization: Bearer ${key}`]);
    expect(header(plain, "vary")).toMatch(/origin/i);
    expect(plain.head).not.toMatch(/access-control-/i);
  });

  it("allowed_ips is matched against the address the connection came from (loopback here)", async () => {
    const home = await newKey(["127.0.0.1", "::1"]);
    expect((await raw(["GET /demo/items HTTP/1.1", host(), `X-API-Key: ${home}`])).status).toBe(200);
    const elsewhere = await newKey(["203.0.113.0/24"]);
    const refused = await raw(["GET /demo/items HTTP/1.1", host(), `X-API-Key: ${elsewhere}`, "X-Forwarded-For: 203.0.113.7"]);
    expect(refused.status).toBe(403);
    expect(refused.body).toContain("ip_not_allowed");
    expect(refused.head).not.toMatch(/x-demo-origin/i);
  });
});

describe("secrets scan of what the gateway printed (issue 18)", () => {
  it("npm start's whole output holds neither the key nor the operator token", () => {
    const output = gateway.output();
    expect(output.length).toBeGreaterThan(0);
    expect(output.includes(key)).toBe(false);
    expect(output.includes(gateway.token)).toBe(false);
  });
});
