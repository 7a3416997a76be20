// keygate/origin in a Node origin: the node:http adapter, the Hono example the README gives, the
// bundled demo origin (which verifies when ORIGIN_SIGNING_SECRET is set), and the whole path
// through a running gateway. Requests are signed with the gateway's own signer.
import { spawn } from "node:child_process";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { Hono } from "hono";
import { type KeygateIdentity, KeygateSignatureError, memoryReplayCache, verifyIncomingMessage, verifyKeygateRequest } from "keygate/origin";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startDemoOrigin } from "../../scripts/demo-origin.ts";
import { contentDigest, importSigningKey, signatureHeader } from "../../src/gateway/signature.ts";
import { ROOT, startGateway, type LocalGateway } from "./npm-start.ts";

const SECRET = "node-origin-signing-secret-0123456789";

/** Headers the gateway would send for `body` (a string, or null for a body it streamed unsigned). */
async function gatewayHeaders(method: string, pathAndQuery: string, body: string | null, requestId: string = crypto.randomUUID()): Promise<Record<string, string>> {
  const digest = body === null ? null : await contentDigest(new TextEncoder().encode(body));
  const identity = { orgId: "org_node", keyId: "key_node", scopes: "demo:read demo:write", tier: "pro" };
  const signature = await signatureHeader(await importSigningKey(SECRET), { timestamp: Math.floor(Date.now() / 1000), requestId, ...identity, method, pathAndQuery, body: digest ?? "unsigned-body" });
  return {
    "x-request-id": requestId,
    "x-keygate-org-id": identity.orgId,
    "x-keygate-key-id": identity.keyId,
    "x-keygate-scopes": identity.scopes,
    "x-keygate-tier": identity.tier,
    "x-keygate-signature": signature,
    ...(digest ? { "content-digest": digest } : {}),
  };
}

async function listen(server: Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

async function close(server: Server): Promise<void> {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
}

describe("the keygate/origin package export", () => {
  it("resolves by name in a plain Node process run from the checkout", async () => {
    const child = spawn(process.execPath, ["--input-type=module", "-e", 'const m = await import("keygate/origin"); console.log(Object.keys(m).sort().join(","))'], { cwd: ROOT });
    let out = "";
    child.stdout.on("data", (chunk: Buffer) => (out += chunk.toString()));
    const code = await new Promise((resolve) => child.once("close", resolve));
    expect(code).toBe(0);
    expect(out.trim().split(",")).toEqual(expect.arrayContaining(["KeygateSignatureError", "memoryReplayCache", "verifyIncomingMessage", "verifyKeygateRequest"]));
  });
});

describe("verifyIncomingMessage (node:http)", () => {
  let server: Server;
  let url: string;
  const replayCache = memoryReplayCache();

  beforeAll(async () => {
    server = createServer(async (req, res) => {
      try {
        const verified = await verifyIncomingMessage(req, SECRET, { replayCache, maxBodyBytes: 1024, allowUnsignedBody: req.url === "/upload" });
        res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ ...verified, body: verified.body ? new TextDecoder().decode(verified.body) : null }));
      } catch (err) {
        if (!(err instanceof KeygateSignatureError)) throw err;
        res.writeHead(401, { "content-type": "application/json" }).end(JSON.stringify({ error: err.code }));
      }
    });
    url = await listen(server);
  });
  afterAll(() => close(server));

  const post = async (path: string, headers: Record<string, string>, body: string) => {
    const res = await fetch(url + path, { method: "POST", headers, body });
    return { status: res.status, json: (await res.json()) as Record<string, unknown> };
  };

  it("returns the identity and the body it read", async () => {
    const res = await post("/pay?x=1", await gatewayHeaders("POST", "/pay?x=1", "amount=1"), "amount=1");
    expect(res.status).toBe(200);
    expect(res.json).toMatchObject({ orgId: "org_node", keyId: "key_node", scopes: ["demo:read", "demo:write"], tier: "pro", bodySigned: true, body: "amount=1" });
  });

  it("refuses a changed body, a replay and a direct call", async () => {
    const headers = await gatewayHeaders("POST", "/pay", "amount=1");
    expect((await post("/pay", headers, "amount=1000000")).json).toEqual({ error: "body_digest_mismatch" });
    expect((await post("/pay", headers, "amount=1")).status).toBe(200);
    expect((await post("/pay", headers, "amount=1")).json).toEqual({ error: "replayed" });
    expect((await post("/pay", { "x-keygate-org-id": "org_node" }, "amount=1")).json).toEqual({ error: "signature_missing" });
  });

  it("answers a body over maxBodyBytes instead of reading it all", async () => {
    const big = "x".repeat(64 * 1024);
    const res = await post("/pay", await gatewayHeaders("POST", "/pay", big), big);
    expect(res.json).toEqual({ error: "body_too_large" });
  });

  it("leaves an unsigned body unread in the stream when allowUnsignedBody is on", async () => {
    const res = await post("/upload", await gatewayHeaders("POST", "/upload", null), "streamed");
    expect(res.json).toMatchObject({ bodySigned: false, body: null });
  });
});

describe("the README's Hono middleware", () => {
  // As in README "Origin signing"; in a Worker the secret comes from c.env.
  const app = new Hono<{ Variables: { keygate: KeygateIdentity } }>();
  const replayCache = memoryReplayCache();
  app.use("*", async (c, next) => {
    try {
      c.set("keygate", await verifyKeygateRequest(c.req.raw, SECRET, { replayCache }));
    } catch (err) {
      if (err instanceof KeygateSignatureError) return c.json({ error: err.code }, 401);
      throw err;
    }
    await next();
  });
  app.post("/orders", async (c) => c.json({ org: c.get("keygate").orgId, order: await c.req.json() }));

  it("lets a signed request through with its identity and a readable body", async () => {
    const body = '{"amount":1}';
    const res = await app.request("/orders", { method: "POST", headers: { ...(await gatewayHeaders("POST", "/orders", body)), "content-type": "application/json" }, body });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ org: "org_node", order: { amount: 1 } });
  });

  it("answers 401 with the reason otherwise", async () => {
    const headers = await gatewayHeaders("POST", "/orders", '{"amount":1}');
    const res = await app.request("/orders", { method: "POST", headers: { ...headers, "x-keygate-tier": "enterprise" }, body: '{"amount":1}' });
    expect(res.status).toBe(401);
    expect(await res.json()).toEqual({ error: "signature_mismatch" });
  });
});

describe("the demo origin with a signing secret", () => {
  let origin: Awaited<ReturnType<typeof startDemoOrigin>>;
  beforeAll(async () => {
    origin = await startDemoOrigin(0, "127.0.0.1", { signingSecret: SECRET });
  });
  afterAll(() => close(origin.server));

  it("echoes the verified identity of a signed request", async () => {
    const res = await fetch(`${origin.url}/demo/echo`, { method: "PUT", headers: await gatewayHeaders("PUT", "/demo/echo", "hello"), body: "hello" });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ body: "hello", keygate: { orgId: "org_node", bodySigned: true } });
  });

  it("refuses an unsigned or replayed request with the verifier's code", async () => {
    const unsigned = await fetch(`${origin.url}/demo/echo`);
    expect(unsigned.status).toBe(401);
    expect(await unsigned.json()).toEqual({ error: { code: "signature_missing", message: expect.any(String) } });
    const headers = await gatewayHeaders("GET", "/demo/echo", "");
    expect((await fetch(`${origin.url}/demo/echo`, { headers })).status).toBe(200);
    expect(((await (await fetch(`${origin.url}/demo/echo`, { headers })).json()) as { error: { code: string } }).error.code).toBe("replayed");
  });

  it("accepts a body the gateway streamed unsigned (over its SIGNED_BODY_MAX_BYTES) and says so", async () => {
    const res = await fetch(`${origin.url}/demo/upload`, { method: "POST", headers: await gatewayHeaders("POST", "/demo/upload", null), body: "y".repeat(100_000) });
    expect(await res.json()).toMatchObject({ body_bytes: 100_000, keygate: { bodySigned: false } });
  });
});

describe("npm start with ORIGIN_SIGNING_SECRET: gateway signs, demo origin verifies", () => {
  let gateway: LocalGateway;
  let key: string;

  beforeAll(async () => {
    gateway = await startGateway({ ORIGIN_SIGNING_SECRET: SECRET });
    const post = async (path: string, body: unknown) =>
      ((await (await fetch(`${gateway.url}/_keygate/v1${path}`, { method: "POST", headers: { authorization: `Bearer ${gateway.token}`, "content-type": "application/json" }, body: JSON.stringify(body) })).json()) as { data: { id: string; key: string } }).data;
    const org = await post("/orgs", { name: "Signed", tier: "free" });
    key = (await post(`/orgs/${org.id}/keys`, { name: "signed", scopes: ["demo:read", "demo:write"] })).key;
  }, 180_000);

  afterAll(async () => {
    await gateway?.stop();
  });

  it("says at start that the demo origin verifies signatures", () => {
    expect(gateway.output()).toContain("(verifying X-Keygate-Signature)");
  });

  it("a key's request reaches the demo origin verified, body included", async () => {
    const res = await fetch(`${gateway.url}/demo/orders?x=1`, { method: "POST", headers: { authorization: `Bearer ${key}` }, body: "amount=1" });
    expect(res.status).toBe(200);
    const echo = (await res.json()) as { body: string; keygate: KeygateIdentity; headers: Record<string, string> };
    expect(echo.body).toBe("amount=1");
    expect(echo.keygate).toMatchObject({ tier: "free", bodySigned: true, requestId: echo.headers["x-request-id"] });
  });

  it("the same signed request sent again straight to the origin is refused as a replay, and a changed body as tampered", async () => {
    const res = await fetch(`${gateway.url}/demo/orders`, { method: "POST", headers: { authorization: `Bearer ${key}` }, body: "amount=1" });
    const { headers } = (await res.json()) as { headers: Record<string, string> };
    const { host: _host, "content-length": _length, connection: _connection, ...signed } = headers;
    const again = (body: string) => fetch(`${gateway.originUrl}/demo/orders`, { method: "POST", headers: signed, body });
    expect(((await (await again("amount=1000000")).json()) as { error: { code: string } }).error.code).toBe("body_digest_mismatch");
    expect(((await (await again("amount=1")).json()) as { error: { code: string } }).error.code).toBe("replayed");
  });
});
