import { KeygateError } from "../errors";

const BEARER = /^Bearer\s+(\S+)\s*$/i;
const API_KEY = /^ApiKey\s+(\S+)\s*$/i;

/**
 * The API key from `Authorization: Bearer`, `Authorization: ApiKey` or `X-API-Key`.
 * Two different keys in one request are refused: which one an origin or a log would see
 * is ambiguous, and that ambiguity is how confused-deputy bugs start.
 */
export function extractCredential(headers: Headers): string | null {
  const authorization = headers.get("authorization");
  const apiKeyHeader = headers.get("x-api-key")?.trim() || null;
  let fromAuthorization: string | null = null;
  if (authorization) {
    const match = BEARER.exec(authorization) ?? API_KEY.exec(authorization);
    if (!match) {
      throw new KeygateError("malformed_key", "the Authorization header must be 'Bearer <key>' or 'ApiKey <key>'", {
        headers: { "WWW-Authenticate": wwwAuthenticate("invalid_request") },
      });
    }
    fromAuthorization = match[1]!;
  }
  if (fromAuthorization && apiKeyHeader && fromAuthorization !== apiKeyHeader) {
    throw new KeygateError("conflicting_credentials", "the request carries two different API keys");
  }
  return fromAuthorization ?? apiKeyHeader;
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
