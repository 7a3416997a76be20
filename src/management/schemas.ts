import { z } from "@hono/zod-openapi";
import { ERROR_CODES, type ErrorCode } from "../errors";
import { invalidField } from "./validation";

/** The one error envelope, as every error response in the OpenAPI document. */
export const ErrorSchema = z
  .object({
    error: z.object({
      code: z.enum(Object.keys(ERROR_CODES) as [ErrorCode, ...ErrorCode[]]),
      message: z.string().max(2000),
      details: z
        .array(z.object({ field: z.string().max(200), message: z.string().max(2000) }))
        .max(200)
        .optional(),
    }),
  })
  .openapi("Error");

// OpenAPI as a security contract (SPEC §9): every string, integer and array in the document is bounded.
// The building blocks below carry their bounds; new schemas should be made of them.

/** An integer with its OpenAPI format and bounds (int32 unless it can exceed 2^31). */
export const int32 = (min: number, max: number) => z.number().int().min(min).max(max).openapi({ format: "int32" });
export const int64 = (min: number, max = Number.MAX_SAFE_INTEGER) => z.number().int().min(min).max(max).openapi({ format: "int64" });
/** Ids: prefix, underscore, base62 (`key_8hQ2vN5mXcR1tLp0WzKa`). */
export const ID_PATTERN = /^[A-Za-z0-9_]{1,64}$/;
export const idString = (example: string) => z.string().max(64).regex(ID_PATTERN).openapi({ example });

/**
 * Response headers every management answer carries (see src/management/rate_limit.ts). X-RateLimit-Limit
 * is sent too but stays out of the document: the OWASP ruleset's rate-limit rule takes exactly one
 * header family (oneOf), and X-RateLimit-Limit with X-RateLimit-Reset would make a second match.
 */
const headerSchema = (description: string, schema: Record<string, unknown>) => ({ description, schema });
export const RATE_LIMIT_HEADERS = {
  "RateLimit-Policy": headerSchema(
    'The per-credential management limit (MANAGEMENT_RATE_LIMIT), e.g. `"default";q=600;w=60`; on answers given before a credential is identified (401, 429 too_many_auth_failures) the address\'s failed-authentication budget (AUTH_FAILURE_LIMIT), `"auth_failures";q=20;w=60`. X-RateLimit-Limit carries its q as well.',
    { type: "string", maxLength: 200 },
  ),
  RateLimit: headerSchema('What is left of it, e.g. `"default";r=599;t=60` (draft-ietf-httpapi-ratelimit-headers)', { type: "string", maxLength: 200 }),
  "X-RateLimit-Remaining": headerSchema("Calls left in the current window", { type: "integer", format: "int32", minimum: 0, maximum: 1_000_000_000 }),
  "X-RateLimit-Reset": headerSchema("Seconds until the window resets", { type: "integer", format: "int32", minimum: 0, maximum: 86_400 }),
};
const RETRY_AFTER = { "Retry-After": headerSchema("Seconds to wait before trying again", { type: "integer", format: "int32", minimum: 1, maximum: 86_400 }) };
const WWW_AUTHENTICATE = { "WWW-Authenticate": headerSchema("The Bearer challenge (RFC 6750)", { type: "string", maxLength: 200 }) };

const ERROR_DESCRIPTIONS = {
  400: "Invalid request: `validation_error` (with `details`) or `invalid_json`",
  401: "Missing, malformed, unknown, revoked, expired or disabled credentials",
  403: "Operator-only route, the key lacks the scope (`insufficient_scope`, `forbidden`), is used from outside its allowed_ips (`ip_not_allowed`), or an org key asked for limits above its tier (`exceeds_tier`)",
  404: "No such resource in the caller's org (another org's resources answer 404 too)",
  409: "Conflicts with the current state (`key_limit_reached`, `conflict`)",
  413: "Body over 64 KiB",
  415: "Body is not JSON",
  429: "Too many calls by this credential (`rate_limited`, MANAGEMENT_RATE_LIMIT) or too many failed authentications from this address (`too_many_auth_failures`, AUTH_FAILURE_LIMIT)",
  500: "Internal error, or the gateway's configuration is invalid (`internal_error`, `gateway_misconfigured`); never with details",
  503: "The rate limiter store is unavailable (`rate_limiter_unavailable`)",
} as const;

/** What every authenticated operation can answer, whatever else it declares (400: every one validates its path, query or body). */
const ALWAYS = [400, 401, 403, 404, 429, 500] as const;

function errorHeaders(status: number) {
  if (status >= 500) return undefined;
  if (status === 429) return { ...RETRY_AFTER, ...RATE_LIMIT_HEADERS };
  if (status === 401) return { ...WWW_AUTHENTICATE, ...RATE_LIMIT_HEADERS };
  return RATE_LIMIT_HEADERS;
}

/** The operation's error responses: the ones given plus 401, 403, 404, 429 and 500, each with its headers. */
export function errorResponses<S extends keyof typeof ERROR_DESCRIPTIONS>(...statuses: S[]) {
  const all = [...new Set<number>([...statuses, ...ALWAYS])].sort() as S[];
  return Object.fromEntries(
    all.map((status) => [
      status,
      { description: ERROR_DESCRIPTIONS[status], headers: errorHeaders(status), content: { "application/json": { schema: ErrorSchema } } },
    ]),
  ) as unknown as Record<S | (typeof ALWAYS)[number], { description: string; content: { "application/json": { schema: typeof ErrorSchema } } }>;
}

export const jsonRequest = <T extends z.ZodType>(schema: T, required = true) => ({
  required,
  content: { "application/json": { schema } },
});

export const jsonResponse = <T extends z.ZodType>(schema: T, description: string) => ({
  description,
  headers: RATE_LIMIT_HEADERS,
  content: { "application/json": { schema } },
});

export const PaginationSchema = z
  .object({ page: int32(1, 10_000), per_page: int32(1, 100), total: int64(0) })
  .openapi("Pagination");

export const dataOf = <T extends z.ZodType>(schema: T) => z.object({ data: schema });
export const pageOf = <T extends z.ZodType>(schema: T) => z.object({ data: z.array(schema).max(100), pagination: PaginationSchema });

/** Deep pages are refused rather than turned into huge offsets: page x per_page stays far inside an int32. */
export const MAX_PAGE = 10_000;

/**
 * A whole number in a query string: decimal digits only, then its range. `z.coerce.number()` alone
 * goes through `Number()`, which also takes "0x10" (16), "1e2" (100), " 1" and "1.0", none of them an
 * integer as the document declares it: a client sending them has a bug worth hearing about.
 */
export const queryInteger = (min: number, max: number) =>
  z
    .string()
    .max(20)
    .regex(/^\d+$/, "must be a whole number (decimal digits only)")
    .transform(Number)
    .pipe(z.number().int().min(min).max(max))
    .openapi({ type: "integer", format: "int32", minimum: min, maximum: max });

export const pageQuery = {
  page: queryInteger(1, MAX_PAGE).default(1).openapi({ description: `1-based page number (max ${MAX_PAGE})`, default: 1 }),
  per_page: queryInteger(1, 100).default(20).openapi({ description: "Items per page (max 100)", default: 20 }),
};

/** `sort=name` ascending, `sort=-name` descending; `values` lists both forms of every field. */
export function sortQuery<const V extends readonly [string, ...string[]]>(values: V, fallback: V[number]) {
  return z
    .enum(values)
    .default(fallback)
    .openapi({ description: "Sort field; prefix with - for descending" });
}

type Unsigned<V extends string> = V extends `-${infer F}` ? F : V;

export function parseSort<V extends string>(sort: V): { by: Unsigned<V>; descending: boolean } {
  const descending = sort.startsWith("-");
  return { by: (descending ? sort.slice(1) : sort) as Unsigned<V>, descending };
}

const ISO_INSTANT = /^(\d{4})-(\d{2})-(\d{2})(T\d{2}:\d{2}(:\d{2}(\.\d{1,3})?)?(Z|[+-]\d{2}:\d{2}))?$/;

/**
 * The instants every answer can print as a 4-digit-year RFC 3339 date-time: "9999-12-31T23:59:59-12:00"
 * is a real calendar day but falls in year 10000 UTC, which toISOString writes as "+010000-01-01T...".
 */
const FIRST_INSTANT = Date.parse("0000-01-01T00:00:00.000Z");
const LAST_INSTANT = Date.parse("9999-12-31T23:59:59.999Z");

/** ISO 8601 shape, a real calendar day (Date.parse would roll 2026-02-30 over to March), years 0000-9999 in UTC too. */
function isIsoInstant(text: string): boolean {
  const match = ISO_INSTANT.exec(text);
  const ms = Date.parse(text);
  if (!match || Number.isNaN(ms) || ms < FIRST_INSTANT || ms > LAST_INSTANT) return false;
  const [year, month, day] = [Number(match[1]), Number(match[2]), Number(match[3])];
  const date = new Date(Date.UTC(year, month - 1, day));
  return date.getUTCFullYear() === year && date.getUTCMonth() === month - 1 && date.getUTCDate() === day;
}

/** "2026-01-31" or "2026-01-31T12:00:00Z" (any offset); converted to epoch ms by `instant`. */
export const isoInstant = z
  .string()
  .max(40)
  .refine(isIsoInstant, "must be an ISO 8601 date (2026-01-31) or date-time (2026-01-31T12:00:00Z)")
  .openapi({ example: "2026-01-31T00:00:00Z", pattern: ISO_INSTANT.source });

/** Epoch ms of an `isoInstant`. A bare date means its first millisecond, or its last when it ends a range. */
export function instant(text: string, edge: "start" | "end" = "start"): number {
  const ms = Date.parse(text);
  return edge === "end" && text.length === 10 ? ms + 86_400_000 - 1 : ms;
}

/**
 * A `since`/`until` filter pair as epoch ms (a bare `until` date includes that whole day). `since` after
 * `until` is refused rather than answered with an empty page, which would hide the client's mistake;
 * the usage ranges refuse it the same way (src/management/usage.ts).
 */
export function timeFilter(query: { since?: string; until?: string }): { since?: number; until?: number } {
  const since = query.since === undefined ? undefined : instant(query.since);
  const until = query.until === undefined ? undefined : instant(query.until, "end");
  if (since !== undefined && until !== undefined && since > until) throw invalidField("since", "must not be after until");
  return { since, until };
}

/**
 * Characters a name may not hold. Control characters (C0, DEL, C1: ESC starts a terminal escape
 * sequence in `npx keygate` tables and log lines), line and paragraph separators, bidirectional
 * overrides and isolates (they reorder what a person reads in the console), and unpaired UTF-16
 * surrogates (D1 stores text as UTF-8, so one would come back as U+FFFD: the name silently changed).
 */
const UNSAFE_NAME_CHARACTER = /[\p{Cc}\p{Cs}\u2028\u2029\u202A-\u202E\u2066-\u2069]/u;

/**
 * A `name` filter: a substring of names as `displayName` admits them. A character no name can hold is
 * refused rather than searched for; a NUL even reached D1 as the end of the string, so `?name=%00`
 * matched every name.
 */
export const nameFilter = z
  .string()
  .min(1)
  .max(100)
  .refine((text) => !UNSAFE_NAME_CHARACTER.test(text), "must not contain control characters, bidirectional overrides or unpaired surrogates")
  .openapi({ description: "Case-insensitive substring of the name" });

/** A name people read (orgs, keys): trimmed, 1 to `max` characters, none of them unsafe to show. */
export const displayName = (max: number, example: string) =>
  z
    .string()
    .trim()
    .min(1)
    .max(max)
    .refine((text) => !UNSAFE_NAME_CHARACTER.test(text), "must not contain control characters, bidirectional overrides or unpaired surrogates")
    .openapi({ example });

/** Output timestamps: ISO 8601 UTC, or null. */
export const timestamp = z.string().max(30).openapi({ format: "date-time", example: "2026-01-31T12:00:00.000Z" });
export const iso = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString());

export const OrgIdParam = z.object({
  org_id: z.string().min(1).max(64).regex(ID_PATTERN, "is not an id").openapi({ param: { name: "org_id", in: "path" }, example: "org_3kTMd9vW1qXb2LcY8nZp" }),
});

export const KeyIdParams = OrgIdParam.extend({
  key_id: z.string().min(1).max(64).regex(ID_PATTERN, "is not an id").openapi({ param: { name: "key_id", in: "path" }, example: "key_8hQ2vN5mXcR1tLp0WzKa" }),
});

export const security = [{ bearer: [] }];
