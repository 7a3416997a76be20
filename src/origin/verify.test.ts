// keygate/origin against the gateway's own signer (src/gateway/signature.ts), in workerd: the
// runtime a Worker origin would verify in. Imported by its package name, as an origin imports it.
import { type KeygateIdentity, KeygateSignatureError, type KeygateSignatureErrorCode, memoryReplayCache, verifyIncomingMessage, verifyKeygateRequest } from "keygate/origin";
import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { seedKey } from "../../test/gateway/seed";
import { handleRequest } from "../app";
import { contentDigest, importSigningKey, type SignedRequest, signatureHeader } from "../gateway/signature";

const SECRET = "origin-signing-secret-0123456789";
const NOW_S = 1_800_000_000;
const now = () => NOW_S * 1000;
const BODY = "amount=1";

interface Signed {
  url: string;
  method: string;
  headers: Record<string, string>;
  body?: string;
}

/** A request as the gateway would forward it: identity headers, request id, Content-Digest, signature. */
async function gatewaySigned(overrides: Partial<SignedRequest> = {}, body: string | null = BODY): Promise<Signed> {
  const digest = body === null ? "unsigned-body" : await contentDigest(new TextEncoder().encode(body));
  const signed: SignedRequest = {
    timestamp: NOW_S,
    requestId: "7d1a6f1e-1d53-4b7a-8c62-4f8a0a1d2e3f",
    orgId: "org_acme",
    keyId: "key_ci",
    scopes: "payments:write demo:read",
    tier: "pro",
    method: "POST",
    pathAndQuery: "/payments?currency=eur",
    body: digest,
    ...overrides,
  };
  const headers: Record<string, string> = {
    "x-request-id": signed.requestId,
    "x-keygate-org-id": signed.orgId,
    "x-keygate-key-id": signed.keyId,
    "x-keygate-scopes": signed.scopes,
    "x-keygate-tier": signed.tier,
    "x-keygate-signature": await signatureHeader(await importSigningKey(SECRET), signed),
  };
  if (body !== null) headers["content-digest"] = digest;
  return { url: `https://origin.example${signed.pathAndQuery}`, method: signed.method, headers, body: body ?? "a body the gateway streamed unsigned" };
}

const toRequest = (s: Signed) => new Request(s.url, { method: s.method, headers: s.headers, body: s.method === "GET" || s.method === "HEAD" ? null : s.body });

async function refusal(promise: Promise<unknown>): Promise<KeygateSignatureErrorCode> {
  try {
    await promise;
  } catch (err) {
    if (err instanceof KeygateSignatureError) return err.code;
    throw err;
  }
  throw new Error("expected the request to be refused");
}

describe("verifyKeygateRequest", () => {
  it("accepts what the gateway signed and returns the identity", async () => {
    const identity = await verifyKeygateRequest(toRequest(await gatewaySigned()), SECRET, { now });
    expect(identity).toEqual<KeygateIdentity>({
      orgId: "org_acme",
      keyId: "key_ci",
      scopes: ["payments:write", "demo:read"],
      tier: "pro",
      requestId: "7d1a6f1e-1d53-4b7a-8c62-4f8a0a1d2e3f",
      timestamp: NOW_S,
      bodySigned: true,
    });
  });

  it("leaves the body readable for the handler", async () => {
    const request = toRequest(await gatewaySigned());
    await verifyKeygateRequest(request, SECRET, { now });
    expect(await request.text()).toBe(BODY);
  });

  it.each([
    ["x-keygate-org-id", "org_other"],
    ["x-keygate-key-id", "key_other"],
    ["x-keygate-scopes", "payments:write demo:read admin"],
    ["x-keygate-tier", "enterprise"],
    ["x-request-id", "00000000-0000-4000-8000-000000000000"],
    ["content-digest", "sha-256=:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=:"],
  ])("refuses a changed %s header", async (name, value) => {
    const signed = await gatewaySigned();
    expect(await refusal(verifyKeygateRequest(toRequest({ ...signed, headers: { ...signed.headers, [name]: value } }), SECRET, { now }))).toBe("signature_mismatch");
  });

  it("refuses a changed method, path or query", async () => {
    const signed = await gatewaySigned();
    expect(await refusal(verifyKeygateRequest(toRequest({ ...signed, method: "PUT" }), SECRET, { now }))).toBe("signature_mismatch");
    expect(await refusal(verifyKeygateRequest(toRequest({ ...signed, url: "https://origin.example/refunds?currency=eur" }), SECRET, { now }))).toBe("signature_mismatch");
    expect(await refusal(verifyKeygateRequest(toRequest({ ...signed, url: "https://origin.example/payments?currency=usd" }), SECRET, { now }))).toBe("signature_mismatch");
  });

  it("refuses a changed body (amount=1 -> amount=1000000)", async () => {
    const signed = await gatewaySigned();
    expect(await refusal(verifyKeygateRequest(toRequest({ ...signed, body: "amount=1000000" }), SECRET, { now }))).toBe("body_digest_mismatch");
  });

  it("refuses a signed body with its Content-Digest stripped (it would read as unsigned)", async () => {
    const signed = await gatewaySigned();
    const { "content-digest": _, ...stripped } = signed.headers;
    expect(await refusal(verifyKeygateRequest(toRequest({ ...signed, headers: stripped }), SECRET, { now, allowUnsignedBody: true }))).toBe("signature_mismatch");
  });

  it("refuses a changed timestamp, and a replay outside the tolerance", async () => {
    const signed = await gatewaySigned();
    const moved = signed.headers["x-keygate-signature"]!.replace(`t=${NOW_S}`, `t=${NOW_S + 1}`);
    expect(await refusal(verifyKeygateRequest(toRequest({ ...signed, headers: { ...signed.headers, "x-keygate-signature": moved } }), SECRET, { now }))).toBe("signature_mismatch");
    const at = (seconds: number) => () => (NOW_S + seconds) * 1000;
    expect(await refusal(verifyKeygateRequest(toRequest(signed), SECRET, { now: at(301) }))).toBe("timestamp_out_of_tolerance");
    expect(await refusal(verifyKeygateRequest(toRequest(signed), SECRET, { now: at(-301) }))).toBe("timestamp_out_of_tolerance");
    expect(await refusal(verifyKeygateRequest(toRequest(signed), SECRET, { now: at(31), toleranceSeconds: 30 }))).toBe("timestamp_out_of_tolerance");
    expect((await verifyKeygateRequest(toRequest(signed), SECRET, { now: at(299) })).keyId).toBe("key_ci");
  });

  it("refuses the wrong secret, and accepts any of a list during a rotation", async () => {
    const signed = await gatewaySigned();
    expect(await refusal(verifyKeygateRequest(toRequest(signed), "another-secret-0123456789abcdef", { now }))).toBe("signature_mismatch");
    expect((await verifyKeygateRequest(toRequest(signed), ["the-new-secret-0123456789abcdef", SECRET], { now })).orgId).toBe("org_acme");
  });

  it("says no secret was configured instead of refusing every request", async () => {
    await expect(verifyKeygateRequest(toRequest(await gatewaySigned()), "", { now })).rejects.toThrow(TypeError);
  });

  it("says an unusable toleranceSeconds or maxBodyBytes is misconfigured instead of turning the check off", async () => {
    const old = () => (NOW_S + 86_400 * 365) * 1000;
    for (const toleranceSeconds of [Number.NaN, Number("unset"), -1, Infinity, "300" as unknown as number]) {
      await expect(verifyKeygateRequest(toRequest(await gatewaySigned()), SECRET, { now: old, toleranceSeconds })).rejects.toThrow(/toleranceSeconds must be a finite number/);
    }
    for (const maxBodyBytes of [Number.NaN, -1, 1.5]) {
      await expect(verifyKeygateRequest(toRequest(await gatewaySigned()), SECRET, { now, maxBodyBytes })).rejects.toThrow(/maxBodyBytes must be a whole number/);
    }
    expect((await verifyKeygateRequest(toRequest(await gatewaySigned()), SECRET, { now, toleranceSeconds: 0, maxBodyBytes: 8 })).keyId).toBe("key_ci");
  });

  it("node:http adapter: a request target that is not a path (OPTIONS *) is refused, not a TypeError", async () => {
    const signed = await gatewaySigned({ method: "OPTIONS" }, "");
    const req = { method: "OPTIONS", url: "*", headers: signed.headers, async *[Symbol.asyncIterator]() {} };
    expect(await refusal(verifyIncomingMessage(req, SECRET, { now }))).toBe("signature_mismatch");
  });

  it("says the body was read before verifying, instead of a bare 'body already used'", async () => {
    const request = toRequest(await gatewaySigned());
    await request.text();
    await expect(verifyKeygateRequest(request, SECRET, { now })).rejects.toThrow(/the request body was already read; verify before anything reads it/);
  });

  it("refuses when the clock gives nonsense, rather than accepting any age", async () => {
    expect(await refusal(verifyKeygateRequest(toRequest(await gatewaySigned()), SECRET, { now: () => Number.NaN }))).toBe("timestamp_out_of_tolerance");
  });

  it("refuses a missing, malformed or v1 signature", async () => {
    const signed = await gatewaySigned();
    const { "x-keygate-signature": _, ...unsigned } = signed.headers;
    expect(await refusal(verifyKeygateRequest(toRequest({ ...signed, headers: unsigned }), SECRET, { now }))).toBe("signature_missing");
    for (const bad of ["garbage", `t=${NOW_S},v1=${"0".repeat(64)}`]) {
      expect(await refusal(verifyKeygateRequest(toRequest({ ...signed, headers: { ...signed.headers, "x-keygate-signature": bad } }), SECRET, { now }))).toBe("signature_malformed");
    }
  });

  it("refuses an unsigned body unless allowUnsignedBody, and then says the body was not covered", async () => {
    const signed = await gatewaySigned({}, null);
    expect(await refusal(verifyKeygateRequest(toRequest(signed), SECRET, { now }))).toBe("body_unsigned");
    expect((await verifyKeygateRequest(toRequest(signed), SECRET, { now, allowUnsignedBody: true })).bodySigned).toBe(false);
  });

  it("refuses to read a body over maxBodyBytes", async () => {
    const signed = await gatewaySigned({}, "x".repeat(2048));
    expect(await refusal(verifyKeygateRequest(toRequest(signed), SECRET, { now, maxBodyBytes: 1024 }))).toBe("body_too_large");
    expect((await verifyKeygateRequest(toRequest(signed), SECRET, { now, maxBodyBytes: 2048 })).bodySigned).toBe(true);
  });

  it("verifies a GET, whose empty body is signed too", async () => {
    const signed = await gatewaySigned({ method: "GET", pathAndQuery: "/payments/42" }, "");
    expect((await verifyKeygateRequest(toRequest(signed), SECRET, { now })).bodySigned).toBe(true);
  });
});

describe("replay protection", () => {
  it("refuses the same signed request the second time", async () => {
    const replayCache = memoryReplayCache({ now });
    const signed = await gatewaySigned();
    await verifyKeygateRequest(toRequest(signed), SECRET, { now, replayCache });
    expect(await refusal(verifyKeygateRequest(toRequest(signed), SECRET, { now, replayCache }))).toBe("replayed");
    const other = await gatewaySigned({ requestId: "a0b1c2d3-0000-4000-8000-000000000001" });
    expect((await verifyKeygateRequest(toRequest(other), SECRET, { now, replayCache })).requestId).toBe("a0b1c2d3-0000-4000-8000-000000000001");
  });

  it("remembers nothing of a forged or tampered request, so the genuine one still passes", async () => {
    const replayCache = memoryReplayCache({ now });
    const signed = await gatewaySigned();
    await refusal(verifyKeygateRequest(toRequest({ ...signed, body: "amount=1000000" }), SECRET, { now, replayCache }));
    await refusal(verifyKeygateRequest(toRequest(signed), "another-secret-0123456789abcdef", { now, replayCache }));
    expect(replayCache.size).toBe(0);
    expect((await verifyKeygateRequest(toRequest(signed), SECRET, { now, replayCache })).orgId).toBe("org_acme");
  });

  it("keeps an id until its signature has expired, then forgets it", async () => {
    let clock = NOW_S * 1000;
    const replayCache = memoryReplayCache({ now: () => clock });
    expect(replayCache.seen("a", clock + 300_000)).toBe(false);
    clock += 299_000;
    expect(replayCache.seen("a", clock + 300_000)).toBe(true);
    clock += 2_000;
    expect(replayCache.seen("b", clock + 300_000)).toBe(false);
    expect(replayCache.size).toBe(1);
  });

  it("stays within maxEntries by forgetting the oldest ids", async () => {
    const replayCache = memoryReplayCache({ now, maxEntries: 3 });
    for (const id of ["a", "b", "c", "d"]) expect(replayCache.seen(id, now() + 300_000)).toBe(false);
    expect(replayCache.size).toBe(3);
    expect(replayCache.seen("d", now() + 300_000)).toBe(true);
    expect(replayCache.seen("a", now() + 300_000)).toBe(false);
  });

  it("refuses a maxEntries that would turn replay protection off or let memory grow without bound", () => {
    for (const maxEntries of [0, -1, Number.NaN, 2.5, Number("unset")]) {
      expect(() => memoryReplayCache({ maxEntries })).toThrow(/maxEntries must be a whole number of 1 or more/);
    }
    expect(memoryReplayCache({ maxEntries: 1 }).seen("a", Date.now() + 1000)).toBe(false);
  });

  it("takes any cache with a seen() method, async ones included", async () => {
    const ids = new Set<string>();
    const replayCache = { seen: async (id: string) => ids.has(id) || (ids.add(id), false) };
    const signed = await gatewaySigned();
    await verifyKeygateRequest(toRequest(signed), SECRET, { now, replayCache });
    expect(await refusal(verifyKeygateRequest(toRequest(signed), SECRET, { now, replayCache }))).toBe("replayed");
  });
});

// The gateway's real signer (proxy.ts through handleRequest) and this verifier, on request targets whose
// serialisation a URL parser could change: what the origin's Request holds must be what the gateway signed.
describe("verifyKeygateRequest against the gateway's own signing, end to end", () => {
  const SIGNING_SECRET = "origin-signing-secret-for-tests-01";

  async function throughGateway(target: string, init: RequestInit = {}) {
    const { key } = await seedKey({ scopes: ["demo:read", "demo:write"] });
    const ctx = createExecutionContext();
    const res = await handleRequest(new Request(`http://gw.test${target}`, { ...init, headers: { "x-api-key": key } }), { ...env, ORIGIN_SIGNING_SECRET: SIGNING_SECRET }, ctx);
    await waitOnExecutionContext(ctx);
    expect(res.status, target).toBe(200);
    const echo = (await res.json()) as { method: string; target: string; headers: Record<string, string>; body: string | null };
    // The request the origin received, rebuilt as a Worker or Hono origin would hold it.
    const { host: _host, "content-length": _length, connection: _connection, ...headers } = echo.headers;
    return new Request(`http://origin.test${echo.target}`, { method: echo.method, headers, body: echo.body === null || echo.method === "GET" ? null : echo.body });
  }

  it.each([
    "/demo/a%20b?q=a+b&x=%2F&&y=&z",
    "/demo/%C3%A9t%C3%A9?",
    "/demo/x?q=%ZZ",
    "/demo/x?q=\u00fc",
    "/demo/x?q='\"<>`",
    "/demo/x;a=b",
    "/demo/a/./b",
    "/demo/A%7eB",
    "/demo/a|b{c}^",
    "/demo/x?a=%25&b=%00",
    "/demo/%E2%80%AE",
    "/demo/x?\\",
  ])("GET %s verifies, and with one byte of its target changed it does not", async (target) => {
    const request = await throughGateway(target);
    expect((await verifyKeygateRequest(request, SIGNING_SECRET)).keyId).toMatch(/^key_/);
    const url = new URL(request.url);
    url.searchParams.append("extra", "1");
    expect(await refusal(verifyKeygateRequest(new Request(url, { headers: request.headers }), SIGNING_SECRET))).toBe("signature_mismatch");
  });

  it("a POST body the gateway hashed verifies, and a changed one does not", async () => {
    const request = await throughGateway("/demo/pay?currency=eur", { method: "POST", body: '{"amount":1}' });
    expect((await verifyKeygateRequest(request.clone(), SIGNING_SECRET)).bodySigned).toBe(true);
    const changed = new Request(request.url, { method: "POST", headers: request.headers, body: '{"amount":9}' });
    expect(await refusal(verifyKeygateRequest(changed, SIGNING_SECRET))).toBe("body_digest_mismatch");
  });
});
