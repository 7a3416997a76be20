import { z } from "@hono/zod-openapi";
import { scopeProblem } from "../auth/scopes";
import type { Config } from "../config";
import { parseDuration } from "../duration";
import { KeygateError } from "../errors";
import { expiryPolicyProblem } from "../hygiene/expiry_policy";
import { displayParts, generateKey } from "../keys/format";
import { hashKey } from "../keys/hash";
import { newId } from "../keys/ids";
import type { KeyRow } from "../store/keys";
import { displayName } from "./schemas";
import { invalidField, invalidFields } from "./validation";

// What the key routes (routes/keys.*.ts) share: the body fields and their bounds, expiry rules,
// minting a key, and the errors they answer alike.

const DAY_MS = 86_400_000;

/** A duration text within [min, max] milliseconds. */
export const durationText = (min: number, max: number, example: string) =>
  z
    .string()
    .max(16)
    .refine((text) => {
      const ms = parseDuration(text);
      return ms !== null && ms >= min && ms <= max;
    }, `must be a duration like "60s", "15m", "1h" or "7d", between ${min / 1000}s and ${max / DAY_MS}d`)
    .openapi({ example, pattern: "^\\d+(ms|s|m|h|d)$" });

/** A key's scopes travel to the origin in one `X-Keygate-Scopes` header: both bounds keep it small enough for any origin. */
export const MAX_SCOPES_PER_KEY = 50;
export const MAX_SCOPES_HEADER_BYTES = 2048;
/** The latest expiry a key can have, counted from when it is created or rotated (keeps every date a 4-digit-year RFC 3339 date). */
export const MAX_KEY_LIFETIME_MS = 36_525 * DAY_MS;
const MAX_KEY_LIFETIME_TEXT = "100 years";
/** `meta` is stored and returned as given: bounded in UTF-8 bytes (not UTF-16 units) and in nesting depth. */
export const MAX_META_BYTES = 4096;
export const MAX_META_DEPTH = 8;

const utf8 = new TextEncoder();

/** Nesting depth of a JSON value: 0 for a scalar, 1 for a flat object or array. Stops counting past `limit`. */
function depthOf(value: unknown, limit: number): number {
  if (value === null || typeof value !== "object") return 0;
  if (limit <= 0) return 1;
  let deepest = 0;
  for (const child of Object.values(value)) {
    deepest = Math.max(deepest, depthOf(child, limit - 1));
    if (deepest >= limit) break;
  }
  return deepest + 1;
}

export const KeyName = displayName(100, "CI pipeline");
export const Scopes = z
  .array(z.string().min(1).max(100))
  .min(1)
  .max(MAX_SCOPES_PER_KEY)
  .refine((scopes) => utf8.encode([...new Set(scopes)].join(" ")).byteLength <= MAX_SCOPES_HEADER_BYTES, `must be at most ${MAX_SCOPES_HEADER_BYTES} bytes joined by spaces (they travel in one X-Keygate-Scopes header)`)
  .openapi({
    description: `Scopes from the configured catalogue (SCOPES plus admin, keys:read, keys:write, audit:read); at most ${MAX_SCOPES_PER_KEY}, and at most ${MAX_SCOPES_HEADER_BYTES} bytes joined by spaces`,
    example: ["demo:read"],
  });
export const Meta = z
  .record(z.string().max(100), z.unknown())
  .refine((meta) => depthOf(meta, MAX_META_DEPTH + 1) <= MAX_META_DEPTH, `must be nested at most ${MAX_META_DEPTH} levels deep`)
  .refine((meta) => utf8.encode(JSON.stringify(meta)).byteLength <= MAX_META_BYTES, `must be at most ${MAX_META_BYTES} bytes as UTF-8 JSON`)
  .openapi({
    description: `Free-form JSON object (at most ${MAX_META_BYTES} bytes as UTF-8 JSON, nested at most ${MAX_META_DEPTH} levels), returned as given`,
    example: { team: "payments" },
  });

const POLICY_NOTE = "The operator may require an expiry (REQUIRE_KEY_EXPIRY) or cap the lifetime (MAX_KEY_LIFETIME): a key outside the policy is refused 400, the rule named.";

/** `expires_in` / `expires_at`, shared by create and rotate. */
export const expiryFields = {
  expires_in: z.enum(["30d", "90d", "1y", "never"]).optional().openapi({ description: `Lifetime from now; "never" for no expiry. ${POLICY_NOTE}` }),
  expires_at: z.iso
    .datetime({ offset: true })
    .max(40)
    .optional()
    .openapi({ description: `Exact expiry (future, at most ${MAX_KEY_LIFETIME_TEXT} from now); instead of expires_in` }),
};

export function refineExpiry(body: { expires_in?: string; expires_at?: string }, ctx: z.RefinementCtx): void {
  if (body.expires_in !== undefined && body.expires_at !== undefined) {
    ctx.addIssue({ code: "custom", path: ["expires_at"], message: "give either expires_in or expires_at, not both" });
  } else if (body.expires_at !== undefined && Date.parse(body.expires_at) <= Date.now()) {
    ctx.addIssue({ code: "custom", path: ["expires_at"], message: "must be in the future" });
  } else if (body.expires_at !== undefined && Date.parse(body.expires_at) > Date.now() + MAX_KEY_LIFETIME_MS) {
    ctx.addIssue({ code: "custom", path: ["expires_at"], message: `must be at most ${MAX_KEY_LIFETIME_TEXT} from now` });
  }
}

/** Refuses a new key's expiry outside the operator's policy, naming the field the client sent (or would send). */
export function assertExpiryPolicy(config: Config, body: { expires_at?: string }, expiresAt: number | null, now: number): void {
  const problem = expiryPolicyProblem(config.expiryPolicy, expiresAt, now);
  if (problem) throw invalidField(body.expires_at !== undefined ? "expires_at" : "expires_in", problem);
}

export function keyNotFound(keyId: string): KeygateError {
  return new KeygateError("not_found", `key ${keyId} not found`);
}

/**
 * Every scope must be in the configured catalogue, or a wildcard over it (`demo:*`); duplicates are
 * dropped, order kept. A refusal lists the valid scopes too (`valid_scopes`), so a client can
 * correct itself without another call (`GET /scopes` has their descriptions).
 */
export function catalogueScopes(config: Config, scopes: string[]): string[] {
  const unknown = scopes.flatMap((scope, i) => {
    const problem = scopeProblem(scope, config.scopes);
    return problem ? [{ field: `scopes[${i}]`, message: problem }] : [];
  });
  if (unknown.length > 0) throw invalidFields([...unknown, ...Object.keys(config.scopes).map((scope) => ({ field: "valid_scopes", message: scope }))]);
  return [...new Set(scopes)];
}

export function expiryOf(body: { expires_in?: string; expires_at?: string }, now: number): number | null {
  if (body.expires_at !== undefined) return Date.parse(body.expires_at);
  if (body.expires_in === undefined || body.expires_in === "never") return null;
  return now + parseDuration(body.expires_in)!;
}

/** What a key's owner chooses (everything else is minted or kept by the store); rotation copies all of it. */
export type KeySettings = Omit<KeyRow, "id" | "hash" | "identifier" | "last4" | "createdAt" | "updatedAt" | "revokedAt" | "lastUsedAt" | "version" | "disabledAt">;

/**
 * A new key and its row. The row holds the hash and the display parts; the key itself leaves
 * this function only to be shown once in the response. The expiry is capped at `MAX_KEY_LIFETIME_MS` from now.
 */
export async function mintKey(config: Config, fields: KeySettings, now: number) {
  const key = generateKey(config.keyPrefix);
  const row: KeyRow = {
    ...fields,
    id: newId("key"),
    hash: await hashKey(key),
    ...displayParts(key, config.keyPrefix),
    expiresAt: fields.expiresAt === null ? null : Math.min(fields.expiresAt, now + MAX_KEY_LIFETIME_MS),
    createdAt: now,
    updatedAt: now,
    revokedAt: null,
    lastUsedAt: null,
    disabledAt: null,
    version: 0,
  };
  return { key, row };
}

export function keyLimitReached(orgId: string, limit: number): KeygateError {
  return new KeygateError("key_limit_reached", `org ${orgId} already has its maximum of ${limit} active keys; revoke one or raise max_active_keys`);
}

/** Audit detail of a key's settings: never the key, never its hash. */
export function keySettings(row: KeyRow) {
  return { name: row.name, scopes: row.scopes, expires_at: row.expiresAt, rate_limit: row.rateLimit, rotated_from: row.rotatedFrom, allowed_ips: row.allowedIps };
}
