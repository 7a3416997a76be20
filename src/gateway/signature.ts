/**
 * `X-Keygate-Signature`: proof for the origin that a request came through the gateway and
 * that its identity headers were set by the gateway, not by the client.
 *
 *   X-Keygate-Signature: t=<unix seconds>,v1=<lowercase hex HMAC-SHA256>
 *
 * The HMAC key is ORIGIN_SIGNING_SECRET (its UTF-8 bytes). The signed string is these eight
 * fields joined by "\n" (none of them can contain a newline):
 *
 *   v1, t, X-Keygate-Org-Id, X-Keygate-Key-Id, X-Keygate-Scopes, X-Keygate-Tier,
 *   request method, request path + query exactly as the origin receives it (e.g. "/demo/x?a=1")
 *
 * Method and path bind the signature to one request line, so a captured signature cannot be
 * replayed against another endpoint. The body is not covered (it is streamed, never buffered).
 * Origins should reject a `t` more than a few minutes away from their clock to bound replay.
 *
 * Only Web Crypto: this file runs unchanged in Workers, Node >= 20, Deno and browsers, so an
 * origin can import `verifyGatewaySignature` as is.
 */

export const SIGNATURE_HEADER = "X-Keygate-Signature";
export const SIGNATURE_VERSION = "v1";

export interface SignedIdentity {
  orgId: string;
  keyId: string;
  /** Exactly the X-Keygate-Scopes header value (space-separated). */
  scopes: string;
  tier: string;
}

const encoder = new TextEncoder();
const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, "0"));

export function canonicalString(timestamp: number, identity: SignedIdentity, method: string, pathAndQuery: string): string {
  return [SIGNATURE_VERSION, String(timestamp), identity.orgId, identity.keyId, identity.scopes, identity.tier, method, pathAndQuery].join("\n");
}

export function importSigningKey(secret: string): Promise<CryptoKey> {
  return crypto.subtle.importKey("raw", encoder.encode(secret), { name: "HMAC", hash: "SHA-256" }, false, ["sign", "verify"]);
}

/** The header value for one request. `timestamp` is unix seconds. */
export async function signatureHeader(key: CryptoKey, timestamp: number, identity: SignedIdentity, method: string, pathAndQuery: string): Promise<string> {
  const mac = new Uint8Array(await crypto.subtle.sign("HMAC", key, encoder.encode(canonicalString(timestamp, identity, method, pathAndQuery))));
  let hex = "";
  for (const byte of mac) hex += HEX[byte];
  return `t=${timestamp},${SIGNATURE_VERSION}=${hex}`;
}

export interface VerifyOptions {
  secret: string;
  /** The request's headers as the origin received them (any object with a case-insensitive `get`, or a plain lowercase-keyed record). */
  headers: Headers | Record<string, string | string[] | undefined>;
  method: string;
  pathAndQuery: string;
  /** Largest accepted distance between `t` and now; default 300 s. */
  toleranceSeconds?: number;
  nowSeconds?: number;
}

/**
 * For origins: true when the request carries a valid, fresh gateway signature.
 * The comparison is `crypto.subtle.verify`, which is constant-time.
 */
export async function verifyGatewaySignature(options: VerifyOptions): Promise<boolean> {
  const header = (name: string): string | undefined => {
    if (options.headers instanceof Headers) return options.headers.get(name) ?? undefined;
    const value = options.headers[name.toLowerCase()];
    return Array.isArray(value) ? value[0] : value;
  };
  const match = /^t=(\d{1,12}),v1=([0-9a-f]{64})$/.exec(header(SIGNATURE_HEADER) ?? "");
  if (!match) return false;
  const timestamp = Number(match[1]);
  const now = options.nowSeconds ?? Math.floor(Date.now() / 1000);
  if (Math.abs(now - timestamp) > (options.toleranceSeconds ?? 300)) return false;

  const identity: SignedIdentity = {
    orgId: header("X-Keygate-Org-Id") ?? "",
    keyId: header("X-Keygate-Key-Id") ?? "",
    scopes: header("X-Keygate-Scopes") ?? "",
    tier: header("X-Keygate-Tier") ?? "",
  };
  const mac = new Uint8Array(32);
  for (let i = 0; i < 32; i++) mac[i] = parseInt(match[2]!.slice(i * 2, i * 2 + 2), 16);
  const key = await importSigningKey(options.secret);
  return crypto.subtle.verify("HMAC", key, mac, encoder.encode(canonicalString(timestamp, identity, options.method, options.pathAndQuery)));
}
