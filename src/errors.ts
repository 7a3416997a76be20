import type { Context } from "hono";
import { HTTPException } from "hono/http-exception";
import type { ContentfulStatusCode } from "hono/utils/http-status";

/** Every error code keygate can answer with. A closed union so a typo fails to compile. */
export const ERROR_CODES = {
  // 400
  validation_error: 400,
  invalid_json: 400,
  conflicting_credentials: 400,
  invalid_path: 400,
  invalid_request: 400,
  // 401
  missing_credentials: 401,
  malformed_key: 401,
  invalid_key: 401,
  key_revoked: 401,
  key_expired: 401,
  key_disabled: 401,
  unauthorized: 401,
  invalid_signature: 401,
  // 403
  insufficient_scope: 403,
  tier_not_entitled: 403,
  tier_unavailable: 403,
  exceeds_tier: 403,
  forbidden: 403,
  ip_not_allowed: 403,
  // 404
  not_found: 404,
  no_route: 404,
  // 405
  method_not_allowed: 405,
  // 409
  key_limit_reached: 409,
  conflict: 409,
  // 413
  payload_too_large: 413,
  // 415
  unsupported_media_type: 415,
  // 429
  rate_limited: 429,
  quota_exceeded: 429,
  too_many_auth_failures: 429,
  // 5xx
  internal_error: 500,
  gateway_misconfigured: 500,
  origin_unreachable: 502,
  rate_limiter_unavailable: 503,
  signing_keys_unavailable: 503,
  key_store_unavailable: 503,
  origin_timeout: 504,
} as const satisfies Record<string, ContentfulStatusCode>;

export type ErrorCode = keyof typeof ERROR_CODES;

export interface ErrorDetail {
  field: string;
  message: string;
}

export interface ErrorEnvelope {
  error: { code: ErrorCode; message: string; details?: ErrorDetail[] };
}

/** The one error type. Thrown anywhere; rendered to the envelope by `renderError`. */
export class KeygateError extends Error {
  readonly code: ErrorCode;
  readonly status: ContentfulStatusCode;
  readonly details?: ErrorDetail[];
  readonly headers?: Record<string, string>;

  constructor(
    code: ErrorCode,
    message: string,
    options: { details?: ErrorDetail[]; headers?: Record<string, string> } = {},
  ) {
    super(message);
    this.name = "KeygateError";
    this.code = code;
    this.status = ERROR_CODES[code];
    this.details = options.details;
    this.headers = options.headers;
  }
}

export function errorBody(code: ErrorCode, message: string, details?: ErrorDetail[]): ErrorEnvelope {
  return { error: details && details.length > 0 ? { code, message, details } : { code, message } };
}

/**
 * A config field for people: array indexes count from 1 (the third [[vars.ROUTES]] block is ROUTES[3]).
 * `details[].field` keeps zod's dotted, 0-based path (ROUTES.2) for programs; logs and check-config use this.
 */
export function displayField(field: string): string {
  const parts = field.split(".");
  return parts
    .map((part, i) => (/^\d+$/.test(part) && i > 0 && parts[i - 1] !== "TIERS" && parts[i - 1] !== "SCOPES" ? `[${Number(part) + 1}]` : (i > 0 ? "." : "") + part))
    .join("");
}

/** What a client is told about a bad config: the code only. The field names stay in the operator's log. */
const MISCONFIGURED_MESSAGE = "the gateway is misconfigured; the operator's log names the problem";
const logged = new WeakSet<KeygateError>();

/**
 * Logs a `gateway_misconfigured` error with its details, once per error object (an invalid config is
 * parsed once per isolate and that one error is thrown for every request, so this logs once per isolate).
 */
export function logMisconfigured(error: KeygateError): void {
  if (logged.has(error)) return;
  logged.add(error);
  const details = error.details ?? [];
  if (details.length === 0) return console.error(`keygate: ${error.message}`);
  console.error(`keygate: gateway configuration is invalid:${details.map((detail) => `\n  - ${displayField(detail.field)}: ${detail.message}`).join("")}`);
}

/** Builds the envelope response directly: the hot path uses this without going through Hono. */
export function errorResponse(error: KeygateError): Response {
  if (error.code === "gateway_misconfigured") {
    logMisconfigured(error);
    error = new KeygateError("gateway_misconfigured", MISCONFIGURED_MESSAGE, { headers: error.headers });
  }
  const headers = new Headers(error.headers);
  headers.set("content-type", "application/json; charset=utf-8");
  return new Response(JSON.stringify(errorBody(error.code, error.message, error.details)), {
    status: error.status,
    headers,
  });
}

/**
 * Hono's own refusals, by status (never by message). The ones our routes can meet: 400 from the
 * JSON validator when `c.req.json()` fails (the management API takes no forms, so a 400 from Hono
 * is always unparseable JSON), 415 from the zod-openapi media-type gate, 413 from `bodyLimit`.
 */
function fromHttpException(err: HTTPException): KeygateError {
  switch (err.status) {
    case 400:
      return new KeygateError("invalid_json", "the request body is not valid JSON");
    case 415:
      return new KeygateError("unsupported_media_type", "request bodies must be JSON: send 'Content-Type: application/json'");
    case 413:
      return new KeygateError("payload_too_large", err.message || "request rejected");
    case 401:
      return new KeygateError("unauthorized", err.message || "request rejected");
    case 404:
      return new KeygateError("not_found", err.message || "request rejected");
    default:
      return new KeygateError("validation_error", err.message || "request rejected");
  }
}

/**
 * The single place an exception becomes an error code and an HTTP answer (the hot path calls it
 * directly, the management API from its `onError`).
 */
export function renderError(err: unknown, c?: Context): Response {
  if (err instanceof KeygateError) return errorResponse(err);
  if (err instanceof HTTPException) return errorResponse(fromHttpException(err));
  // Unknown errors never leak internals (or a key that may sit in a message) to the caller.
  console.error("keygate: unhandled error", err instanceof Error ? err.name + ": " + err.message : "unknown", c?.req.method, c?.req.path);
  return errorResponse(new KeygateError("internal_error", "internal error"));
}
