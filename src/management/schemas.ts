import { z } from "@hono/zod-openapi";
import { ERROR_CODES, type ErrorCode } from "../errors";

/** The one error envelope, as every error response in the OpenAPI document. */
export const ErrorSchema = z
  .object({
    error: z.object({
      code: z.enum(Object.keys(ERROR_CODES) as [ErrorCode, ...ErrorCode[]]),
      message: z.string(),
      details: z.array(z.object({ field: z.string(), message: z.string() })).optional(),
    }),
  })
  .openapi("Error");

const ERROR_DESCRIPTIONS = {
  400: "Invalid request: `validation_error` (with `details`) or `invalid_json`",
  401: "Missing, malformed, unknown, revoked, expired or disabled credentials",
  403: "Operator-only route, or the key lacks the scope (`insufficient_scope`, `forbidden`), or is used from outside its allowed_ips (`ip_not_allowed`)",
  404: "No such resource in the caller's org (another org's resources answer 404 too)",
  409: "Conflicts with the current state (`key_limit_reached`, `conflict`)",
  413: "Body over 64 KiB",
  415: "Body is not JSON",
} as const;

export function errorResponses<S extends keyof typeof ERROR_DESCRIPTIONS>(...statuses: S[]) {
  return Object.fromEntries(
    statuses.map((status) => [status, { description: ERROR_DESCRIPTIONS[status], content: { "application/json": { schema: ErrorSchema } } }]),
  ) as unknown as Record<S, { description: string; content: { "application/json": { schema: typeof ErrorSchema } } }>;
}

export const jsonRequest = <T extends z.ZodType>(schema: T, required = true) => ({
  required,
  content: { "application/json": { schema } },
});

export const jsonResponse = <T extends z.ZodType>(schema: T, description: string) => ({
  description,
  content: { "application/json": { schema } },
});

export const PaginationSchema = z
  .object({ page: z.number().int(), per_page: z.number().int(), total: z.number().int() })
  .openapi("Pagination");

export const dataOf = <T extends z.ZodType>(schema: T) => z.object({ data: schema });
export const pageOf = <T extends z.ZodType>(schema: T) => z.object({ data: z.array(schema), pagination: PaginationSchema });

export const pageQuery = {
  page: z.coerce.number().int().min(1).default(1).openapi({ description: "1-based page number" }),
  per_page: z.coerce.number().int().min(1).max(100).default(20).openapi({ description: "Items per page (max 100)" }),
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

/** ISO 8601 shape and a real calendar day (Date.parse would roll 2026-02-30 over to March). */
function isIsoInstant(text: string): boolean {
  const match = ISO_INSTANT.exec(text);
  if (!match || Number.isNaN(Date.parse(text))) return false;
  const [year, month, day] = [Number(match[1]), Number(match[2]), Number(match[3])];
  const date = new Date(Date.UTC(year, month - 1, day));
  return date.getUTCFullYear() === year && date.getUTCMonth() === month - 1 && date.getUTCDate() === day;
}

/** "2026-01-31" or "2026-01-31T12:00:00Z" (any offset); converted to epoch ms by `instant`. */
export const isoInstant = z
  .string()
  .refine(isIsoInstant, "must be an ISO 8601 date (2026-01-31) or date-time (2026-01-31T12:00:00Z)")
  .openapi({ example: "2026-01-31T00:00:00Z" });

/** Epoch ms of an `isoInstant`. A bare date means its first millisecond, or its last when it ends a range. */
export function instant(text: string, edge: "start" | "end" = "start"): number {
  const ms = Date.parse(text);
  return edge === "end" && text.length === 10 ? ms + 86_400_000 - 1 : ms;
}

/** Output timestamps: ISO 8601 UTC, or null. */
export const timestamp = z.string().openapi({ format: "date-time", example: "2026-01-31T12:00:00.000Z" });
export const iso = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString());

export const OrgIdParam = z.object({
  org_id: z.string().min(1).max(64).openapi({ param: { name: "org_id", in: "path" }, example: "org_3kTMd9vW1qXb2LcY8nZp" }),
});

export const KeyIdParams = OrgIdParam.extend({
  key_id: z.string().min(1).max(64).openapi({ param: { name: "key_id", in: "path" }, example: "key_8hQ2vN5mXcR1tLp0WzKa" }),
});

export const security = [{ bearer: [] }];
