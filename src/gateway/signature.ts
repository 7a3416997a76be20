/**
 * `X-Keygate-Signature`: proof for the origin that a request came through the gateway, that its
 * identity headers and body are the ones the gateway saw, and which request it is (for replay
 * protection). The one home of the algorithm: the gateway signs with it (proxy.ts) and the
 * `keygate/origin` verifier (src/origin/) checks with it.
 *
 *   X-Keygate-Signature: t=<unix seconds>,v2=<lowercase hex HMAC-SHA256>
 *
 * The HMAC key is ORIGIN_SIGNING_SECRET (its UTF-8 bytes). The signed string is these ten fields
 * joined by "\n" (none of them can contain a newline):
 *
 *   v2, t, X-Request-Id, X-Keygate-Org-Id, X-Keygate-Key-Id, X-Keygate-Scopes, X-Keygate-Tier,
 *   request method, request path + query exactly as the origin receives it (e.g. "/demo/x?a=1"),
 *   Content-Digest as sent (`sha-256=:<base64>:`, RFC 9530) or the literal `unsigned-body`
 *
 * v1 (no request id, no body) is gone: its documented verifier matched the whole header with an
 * anchored pattern, so no header could have carried both versions, and a v1 alongside v2 would
 * have let an attacker strip v2 and fall back to a signature that covers neither body nor replay.
 *
 * Only Web Crypto, and no imports: this file runs unchanged in Workers, Node >= 20, Deno, Bun
 * and browsers, as the origin verifier needs.
 */

export const SIGNATURE_HEADER = "X-Keygate-Signature";
export const REQUEST_ID_HEADER = "X-Request-Id";
export const CONTENT_DIGEST_HEADER = "Content-Digest";
export const SIGNATURE_VERSION = "v2";
/** The body field of a request whose body the gateway did not hash (over SIGNED_BODY_MAX_BYTES). */
export const UNSIGNED_BODY = "unsigned-body";

/** Everything the signature covers, as the origin receives it. */
export interface SignedRequest {
  /** Unix seconds. */
  timestamp: number;
  requestId: string;
  orgId: string;
  keyId: string;
  /** Exactly the X-Keygate-Scopes header value (space-separated). */
  scopes: string;
  tier: string;
  method: string;
  pathAndQuery: string;
  /** The Content-Digest header value, or `UNSIGNED_BODY`. */
  body: string;
}

/** CryptoKey, named through `crypto` so Node programs (whose types have no global CryptoKey) compile this file too. */
export type SigningKey = Awaited<ReturnType<typeof crypto.subtle.importKey>>;

const encoder = new TextEncoder();
const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, "0"));

export function canonicalString(r: SignedRequest): string {
  return [SIGNATURE_VERSION, String(r.timestamp), r.requestId, r.orgId, r.keyId, r.scopes, r.tier, r.method, r.pathAndQuery, r.body].join("\n");
}

/** RFC 9530 `Content-Digest` of a whole body, SHA-256 only: `sha-256=:<base64>:`. */
/** The digest of no bytes: every signed GET carries it, so it is not recomputed per request. */
const EMPTY_BODY_DIGEST = "sha-256=:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=:";

export async function contentDigest(bytes: Uint8Array): Promise<string> {
  if (bytes.byteLength === 0) return EMPTY_BODY_DIGEST;
  // Bodies are never SharedArrayBuffer views; the cast only narrows TextEncoder's declared return type.
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes as Uint8Array<ArrayBuffer>));
  let binary = "";
  for (const byte of digest) binary += String.fromCharCode(byte);
  return `sha-256=:${btoa(binary)}:`;
}

export function importSigningKey(secret: string): Promise<SigningKey> {
  return crypto.subtle.importKey("raw", encoder.encode(secret), { name: "HMAC", hash: "SHA-256" }, false, ["sign", "verify"]);
}

/** The header value for one request. */
export async function signatureHeader(key: SigningKey, request: SignedRequest): Promise<string> {
  const mac = new Uint8Array(await crypto.subtle.sign("HMAC", key, encoder.encode(canonicalString(request))));
  let hex = "";
  for (const byte of mac) hex += HEX[byte];
  return `t=${request.timestamp},${SIGNATURE_VERSION}=${hex}`;
}

export interface ParsedSignature {
  timestamp: number;
  mac: Uint8Array<ArrayBuffer>;
}

/** The header's parts, or null when it is not a v2 signature. */
export function parseSignatureHeader(value: string): ParsedSignature | null {
  const match = /^t=(\d{1,12}),v2=([0-9a-f]{64})$/.exec(value);
  if (!match) return null;
  const mac = new Uint8Array(32);
  for (let i = 0; i < 32; i++) mac[i] = parseInt(match[2]!.slice(i * 2, i * 2 + 2), 16);
  return { timestamp: Number(match[1]), mac };
}

/** True when `mac` signs `request` under `key`. `crypto.subtle.verify` compares in constant time. */
export function verifySignature(key: SigningKey, mac: Uint8Array<ArrayBuffer>, request: SignedRequest): Promise<boolean> {
  return crypto.subtle.verify("HMAC", key, mac, encoder.encode(canonicalString(request)));
}
