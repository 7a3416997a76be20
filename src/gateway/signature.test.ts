import { describe, expect, it } from "vitest";
import { canonicalString, importSigningKey, signatureHeader, verifyGatewaySignature } from "./signature";

const SECRET = "origin-signing-secret-0123456789";
const identity = { orgId: "org_1", keyId: "key_1", scopes: "demo:read demo:write", tier: "pro" };
const NOW = 1_800_000_000;

async function signedHeaders(overrides: Partial<typeof identity> = {}, timestamp = NOW, method = "GET", path = "/demo/x?a=1"): Promise<Record<string, string>> {
  const key = await importSigningKey(SECRET);
  const id = { ...identity, ...overrides };
  return {
    "x-keygate-org-id": id.orgId,
    "x-keygate-key-id": id.keyId,
    "x-keygate-scopes": id.scopes,
    "x-keygate-tier": id.tier,
    "x-keygate-signature": await signatureHeader(key, timestamp, id, method, path),
  };
}

const verify = (headers: Record<string, string> | Headers, extra: { method?: string; pathAndQuery?: string; secret?: string; nowSeconds?: number } = {}) =>
  verifyGatewaySignature({ secret: SECRET, headers, method: "GET", pathAndQuery: "/demo/x?a=1", nowSeconds: NOW, ...extra });

describe("gateway signature", () => {
  it("signs the documented newline-joined canonical string", () => {
    expect(canonicalString(NOW, identity, "GET", "/demo/x?a=1")).toBe("v1\n1800000000\norg_1\nkey_1\ndemo:read demo:write\npro\nGET\n/demo/x?a=1");
  });

  it("matches an HMAC-SHA256 computed independently over the canonical string", async () => {
    const headers = await signedHeaders();
    const raw = await crypto.subtle.importKey("raw", new TextEncoder().encode(SECRET), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
    const mac = new Uint8Array(await crypto.subtle.sign("HMAC", raw, new TextEncoder().encode(canonicalString(NOW, identity, "GET", "/demo/x?a=1"))));
    const hex = [...mac].map((b) => b.toString(16).padStart(2, "0")).join("");
    expect(headers["x-keygate-signature"]).toBe(`t=${NOW},v1=${hex}`);
  });

  it("verifies a genuine request, from a plain header record or a Headers object", async () => {
    const headers = await signedHeaders();
    expect(await verify(headers)).toBe(true);
    expect(await verify(new Headers(headers))).toBe(true);
  });

  it("rejects a changed identity header (a client cannot raise its own scopes or switch org)", async () => {
    const headers = await signedHeaders();
    expect(await verify({ ...headers, "x-keygate-scopes": "admin" })).toBe(false);
    expect(await verify({ ...headers, "x-keygate-org-id": "org_2" })).toBe(false);
    expect(await verify({ ...headers, "x-keygate-tier": "enterprise" })).toBe(false);
  });

  it("rejects a signature replayed on another method or path", async () => {
    const headers = await signedHeaders();
    expect(await verify(headers, { method: "DELETE" })).toBe(false);
    expect(await verify(headers, { pathAndQuery: "/demo/x?a=2" })).toBe(false);
  });

  it("rejects a stale or future timestamp beyond the tolerance", async () => {
    const headers = await signedHeaders();
    expect(await verify(headers, { nowSeconds: NOW + 301 })).toBe(false);
    expect(await verify(headers, { nowSeconds: NOW - 301 })).toBe(false);
    expect(await verify(headers, { nowSeconds: NOW + 299 })).toBe(true);
  });

  it("rejects the wrong secret, a missing header and a garbled one", async () => {
    const headers = await signedHeaders();
    expect(await verify(headers, { secret: "another-secret-0123456789abcdef" })).toBe(false);
    const { "x-keygate-signature": _, ...unsigned } = headers;
    expect(await verify(unsigned)).toBe(false);
    expect(await verify({ ...headers, "x-keygate-signature": "t=abc,v1=00" })).toBe(false);
  });
});
