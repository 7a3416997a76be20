// keygate/origin against the gateway's own signer (src/gateway/signature.ts), in workerd: the
// runtime a Worker origin would verify in. Imported by its package name, as an origin imports it.
import { type KeygateIdentity, KeygateSignatureError, type KeygateSignatureErrorCode, memoryReplayCache, verifyIncomingMessage, verifyKeygateRequest } from "keygate/origin";
import { describe, expect, it } from "vitest";
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

  it("takes any cache with a seen() method, async ones included", async () => {
    const ids = new Set<string>();
    const replayCache = { seen: async (id: string) => ids.has(id) || (ids.add(id), false) };
    const signed = await gatewaySigned();
    await verifyKeygateRequest(toRequest(signed), SECRET, { now, replayCache });
    expect(await refusal(verifyKeygateRequest(toRequest(signed), SECRET, { now, replayCache }))).toBe("replayed");
  });
});
