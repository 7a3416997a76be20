import { KeygateError } from "../errors";

const BEARER = /^Bearer\s+(\S+)\s*$/i;
const API_KEY = /^ApiKey\s+(\S+)\s*$/i;

/**
 * The API key from `Authorization: Bearer`, `Authorization: ApiKey` or `X-API-Key`.
 * Two different keys in one request are refused: which one an origin or a log would see
 * is ambiguous, and that ambiguity is how confused-deputy bugs start. That includes a header sent
 * twice: `Headers.get` joins repeated fields with ", " (RFC 9110 §5.3), and a key never contains a
 * comma or a space, so `X-API-Key: k1` + `X-API-Key: k2` arrives as "k1, k2" and is two keys, not one
 * malformed one; the same key repeated is that key. A header that parses whole is never split: an
 * operator token (also read here, by the management API) may contain a bare comma.
 */
export function extractCredential(headers: Headers): string | null {
  const authorization = headers.get("authorization");
  const apiKeyHeader = headers.get("x-api-key");
  let key: string | null = null;
  if (authorization) {
    // The common request has one field that matches whole: no split, no array.
    const whole = BEARER.exec(authorization) ?? API_KEY.exec(authorization);
    if (whole) key = whole[1]!;
    else {
      // split + trim, not a regex split: `/\s*,\s+/` backtracks quadratically over a long run of blanks.
      for (const part of authorization.split(",")) {
        const field = part.trim();
        const match = BEARER.exec(field) ?? API_KEY.exec(field);
        if (!match) {
          throw new KeygateError("malformed_key", "the Authorization header must be 'Bearer <key>' or 'ApiKey <key>'", {
            headers: { "WWW-Authenticate": wwwAuthenticate("invalid_request") },
          });
        }
        key = sameKey(key, match[1]!);
      }
    }
  }
  if (apiKeyHeader) {
    for (const field of apiKeyHeader.includes(", ") ? apiKeyHeader.split(",") : [apiKeyHeader]) {
      const value = field.trim();
      if (value) key = sameKey(key, value);
    }
  }
  return key;
}

function sameKey(seen: string | null, key: string): string {
  if (seen !== null && seen !== key) throw new KeygateError("conflicting_credentials", "the request carries two different API keys");
  return key;
}

/**
 * RFC 6750 challenge; `error` is omitted when no credentials were sent, as the RFC asks, and
 * `insufficient_scope` names the scopes the request needs (§3.1).
 */
export function wwwAuthenticate(error?: "invalid_request" | "invalid_token"): string;
export function wwwAuthenticate(error: "insufficient_scope", scopes: readonly string[]): string;
export function wwwAuthenticate(error?: "invalid_request" | "invalid_token" | "insufficient_scope", scopes?: readonly string[]): string {
  if (!error) return `Bearer realm="keygate"`;
  return scopes ? `Bearer realm="keygate", error="${error}", scope="${scopes.join(" ")}"` : `Bearer realm="keygate", error="${error}"`;
}
