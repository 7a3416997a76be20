import { describe, expect, it } from "vitest";
import { canonicalString, contentDigest, importSigningKey, parseSignatureHeader, type SignedRequest, signatureHeader, verifySignature } from "./signature";

const SECRET = "origin-signing-secret-0123456789";
const NOW = 1_800_000_000;
const request: SignedRequest = {
  timestamp: NOW,
  requestId: "6f1c2a8e-0b7d-4c5e-9a3f-1d2e3f4a5b6c",
  orgId: "org_1",
  keyId: "key_1",
  scopes: "demo:read demo:write",
  tier: "pro",
  method: "POST",
  pathAndQuery: "/demo/x?a=1",
  body: "sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:",
};

describe("gateway signature v2", () => {
  it("signs the documented newline-joined canonical string of ten fields", () => {
    expect(canonicalString(request)).toBe(
      "v2\n1800000000\n6f1c2a8e-0b7d-4c5e-9a3f-1d2e3f4a5b6c\norg_1\nkey_1\ndemo:read demo:write\npro\nPOST\n/demo/x?a=1\nsha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:",
    );
  });

  it("writes Content-Digest as RFC 9530 does (its own example: {\"hello\": \"world\"})", async () => {
    expect(await contentDigest(new TextEncoder().encode('{"hello": "world"}'))).toBe("sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:");
    expect(await contentDigest(new Uint8Array(0))).toBe("sha-256=:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=:");
  });

  it("is an HMAC-SHA256 over the canonical string, in lowercase hex after t=<seconds>,v2=", async () => {
    const header = await signatureHeader(await importSigningKey(SECRET), request);
    const raw = await crypto.subtle.importKey("raw", new TextEncoder().encode(SECRET), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
    const mac = new Uint8Array(await crypto.subtle.sign("HMAC", raw, new TextEncoder().encode(canonicalString(request))));
    expect(header).toBe(`t=${NOW},v2=${[...mac].map((b) => b.toString(16).padStart(2, "0")).join("")}`);
  });

  it("parses its own header back and verifies it; refuses other shapes, v1 included", async () => {
    const key = await importSigningKey(SECRET);
    const parsed = parseSignatureHeader(await signatureHeader(key, request))!;
    expect(parsed.timestamp).toBe(NOW);
    expect(await verifySignature(key, parsed.mac, request)).toBe(true);
    expect(await verifySignature(key, parsed.mac, { ...request, body: "unsigned-body" })).toBe(false);
    for (const bad of ["", `t=${NOW},v1=${"0".repeat(64)}`, `t=${NOW},v2=${"0".repeat(63)}`, `v2=${"0".repeat(64)},t=${NOW}`, `t=-1,v2=${"0".repeat(64)}`, `t=${NOW},v2=${"A".repeat(64)}`]) {
      expect(parseSignatureHeader(bad)).toBeNull();
    }
  });
});
