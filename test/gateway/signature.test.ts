// The origin signature as the origin receives it (SPEC §3 step 7, issue 17 item 7): v2 covers a
// gateway-generated request id and the body's Content-Digest (RFC 9530). Checked here against the
// documented canonical string with an HMAC computed independently of src/gateway/signature.ts.
import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { handleRequest } from "../../src/app";
import type { Env } from "../../src/env";
import { seedKey } from "./seed";

const SECRET = "origin-signing-secret-for-tests-01";
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

interface Echo {
  method: string;
  headers: Record<string, string>;
  body_bytes: number;
  body_sha256: string;
}

async function signedGateway(path: string, init: RequestInit, overrides: Partial<Env> = {}): Promise<Echo> {
  const ctx = createExecutionContext();
  const res = await handleRequest(new Request(`http://gw.test${path}`, init), { ...env, ORIGIN_SIGNING_SECRET: SECRET, ...overrides }, ctx);
  await waitOnExecutionContext(ctx);
  expect(res.status).toBe(200);
  return (await res.json()) as Echo;
}

const encoder = new TextEncoder();

async function hmacHex(text: string): Promise<string> {
  const key = await crypto.subtle.importKey("raw", encoder.encode(SECRET), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  const mac = new Uint8Array(await crypto.subtle.sign("HMAC", key, encoder.encode(text)));
  return [...mac].map((b) => b.toString(16).padStart(2, "0")).join("");
}

async function rfc9530Sha256(bytes: Uint8Array): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
  return `sha-256=:${btoa(String.fromCharCode(...digest))}:`;
}

/** The README's v2 canonical string, rebuilt from what the origin received. */
async function expectedSignature(echo: Echo, pathAndQuery: string, bodyField: string): Promise<string> {
  const h = echo.headers;
  const t = /^t=(\d+),/.exec(h["x-keygate-signature"] ?? "")?.[1];
  const canonical = ["v2", t, h["x-request-id"], h["x-keygate-org-id"], h["x-keygate-key-id"], h["x-keygate-scopes"], h["x-keygate-tier"], echo.method, pathAndQuery, bodyField].join("\n");
  return `t=${t},v2=${await hmacHex(canonical)}`;
}

function chunked(bytes: Uint8Array, chunk = 1024): ReadableStream<Uint8Array> {
  let offset = 0;
  return new ReadableStream({
    pull(controller) {
      if (offset >= bytes.length) return controller.close();
      controller.enqueue(bytes.slice(offset, offset + chunk));
      offset += chunk;
    },
  });
}

describe("origin signature v2", () => {
  it("covers the body: the origin receives its Content-Digest, and the signature is over it", async () => {
    const { key } = await seedKey({ scopes: ["demo:write"] });
    const body = '{"amount":1}';
    const echo = await signedGateway("/demo/pay?currency=eur", { method: "POST", headers: { "x-api-key": key, "content-type": "application/json" }, body });
    const digest = await rfc9530Sha256(encoder.encode(body));
    expect(echo.headers["content-digest"]).toBe(digest);
    expect(echo.headers["x-keygate-signature"]).toMatch(/^t=\d+,v2=[0-9a-f]{64}$/);
    expect(echo.headers["x-keygate-signature"]).toBe(await expectedSignature(echo, "/demo/pay?currency=eur", digest));
  });

  it("covers an empty body too, so a body cannot be added to a signed GET", async () => {
    const { key } = await seedKey();
    const echo = await signedGateway("/demo/items", { headers: { "x-api-key": key } });
    const digest = await rfc9530Sha256(new Uint8Array());
    expect(echo.headers["content-digest"]).toBe(digest);
    expect(echo.headers["x-keygate-signature"]).toBe(await expectedSignature(echo, "/demo/items", digest));
  });

  it("replaces a client-sent X-Request-Id and Content-Digest with the gateway's own", async () => {
    const { key } = await seedKey({ scopes: ["demo:write"] });
    const init = () => ({ method: "POST", headers: { "x-api-key": key, "x-request-id": "req-chosen-by-client", "content-digest": "sha-256=:AAAA:" }, body: "a=1" });
    const first = await signedGateway("/demo/x", init());
    const second = await signedGateway("/demo/x", init());
    expect(first.headers["x-request-id"]).toMatch(UUID);
    expect(second.headers["x-request-id"]).toMatch(UUID);
    expect(first.headers["x-request-id"]).not.toBe(second.headers["x-request-id"]);
    expect(first.headers["content-digest"]).toBe(await rfc9530Sha256(encoder.encode("a=1")));
  });

  it("signs a body over SIGNED_BODY_MAX_BYTES as unsigned-body and streams it untouched", async () => {
    const { key } = await seedKey({ scopes: ["demo:write"] });
    const body = new Uint8Array(2048).fill(7);
    const echo = await signedGateway(
      "/demo/upload",
      { method: "PUT", headers: { "x-api-key": key, "content-digest": "sha-256=:forged-by-client=:" }, body },
      { SIGNED_BODY_MAX_BYTES: "1024" },
    );
    expect(echo.body_bytes).toBe(2048);
    expect(echo.body_sha256).toBe([...new Uint8Array(await crypto.subtle.digest("SHA-256", body))].map((b) => b.toString(16).padStart(2, "0")).join(""));
    // The gateway cannot vouch for a digest it did not compute: the client's is dropped.
    expect(echo.headers["content-digest"]).toBeUndefined();
    expect(echo.headers["x-keygate-signature"]).toBe(await expectedSignature(echo, "/demo/upload", "unsigned-body"));
  });

  it("a body of undeclared length is hashed when it ends within the limit, streamed untouched when it runs over", async () => {
    const { key } = await seedKey({ scopes: ["demo:write"] });
    const small = new Uint8Array(1000).fill(1);
    const within = await signedGateway("/demo/s", { method: "POST", headers: { "x-api-key": key }, body: chunked(small, 100) }, { SIGNED_BODY_MAX_BYTES: "1024" });
    expect(within.body_bytes).toBe(1000);
    expect(within.headers["content-digest"]).toBe(await rfc9530Sha256(small));

    const large = new Uint8Array(5000).map((_, i) => i % 251);
    const over = await signedGateway("/demo/l", { method: "POST", headers: { "x-api-key": key }, body: chunked(large, 300) }, { SIGNED_BODY_MAX_BYTES: "1024" });
    expect(over.body_bytes).toBe(5000);
    expect(over.body_sha256).toBe([...new Uint8Array(await crypto.subtle.digest("SHA-256", large))].map((b) => b.toString(16).padStart(2, "0")).join(""));
    expect(over.headers["content-digest"]).toBeUndefined();
    expect(over.headers["x-keygate-signature"]).toBe(await expectedSignature(over, "/demo/l", "unsigned-body"));
  });

  it("a small body that never finishes arriving is bounded by ORIGIN_TIMEOUT_MS, not waited on forever", async () => {
    const { key } = await seedKey({ scopes: ["demo:write"] });
    const stalled = new ReadableStream<Uint8Array>({ start: (controller) => controller.enqueue(new Uint8Array(10)) });
    const ctx = createExecutionContext();
    const res = await handleRequest(
      new Request("http://gw.test/demo/stalled", { method: "POST", headers: { "x-api-key": key }, body: stalled }),
      { ...env, ORIGIN_SIGNING_SECRET: SECRET, ORIGIN_TIMEOUT_MS: "300" },
      ctx,
    );
    await waitOnExecutionContext(ctx);
    expect(res.status).toBe(504);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe("origin_timeout");
  });

  it("sends a gateway request id even without a signing secret, never the client's", async () => {
    const { key } = await seedKey();
    const ctx = createExecutionContext();
    const res = await handleRequest(new Request("http://gw.test/demo/x", { headers: { "x-api-key": key, "x-request-id": "req-123" } }), env, ctx);
    await waitOnExecutionContext(ctx);
    const echo = (await res.json()) as Echo;
    expect(echo.headers["x-request-id"]).toMatch(UUID);
    expect(echo.headers["x-keygate-signature"]).toBeUndefined();
  });
});
