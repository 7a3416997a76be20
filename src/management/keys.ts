import { createRoute, z } from "@hono/zod-openapi";
import { scopeProblem } from "../auth/scopes";
import type { Config } from "../config";
import { consistencyMode } from "../ratelimit/tiers";
import { parseDuration } from "../duration";
import { KeygateError } from "../errors";
import { expiryPolicyProblem } from "../hygiene/expiry_policy";
import { displayParts, generateKey } from "../keys/format";
import { hashKey } from "../keys/hash";
import { newId } from "../keys/ids";
import { recordAuditIf } from "../store/audit";
import { changedRows } from "../store/conditional";
import { findKey, insertKeyIf, KEY_STATUSES, keyExists, type KeyChanges, type KeyRow, type KeyStatus, keyUnchanged, listKeys, underKeyLimit, updateKey } from "../store/keys";
import { findOrg } from "../store/orgs";
import { eventOf } from "../webhooks/events";
import { assertCanGrant, assertCanManage, authorizeOrg, orgNotFound } from "./auth";
import { retryOnStale, STALE } from "./concurrency";
import { actorOf, keyCacheOf, type ManagementApp, publisherOf } from "./context";
import { CreatedKeySchema, KeySchema, presentKey } from "./representations";
import { AllowedIps, assertCanRestrict, Enabled, storedAllowedIps } from "./restrictions";
import { dataOf, errorResponses, instant, int32, isoInstant, jsonRequest, jsonResponse, KeyIdParams, OrgIdParam, pageOf, pageQuery, parseSort, security, sortQuery } from "./schemas";
import { hasLimitFields, nextKeyLimits, QuotaInput, RateLimitInput, RateLimitsInput, tellLimiterKeyChanged } from "./key_limits";
import { invalidField, invalidFields } from "./validation";

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

const KeyName = z.string().trim().min(1).max(100).openapi({ example: "CI pipeline" });
const Scopes = z
  .array(z.string().min(1).max(100))
  .min(1)
  .max(MAX_SCOPES_PER_KEY)
  .refine((scopes) => utf8.encode([...new Set(scopes)].join(" ")).byteLength <= MAX_SCOPES_HEADER_BYTES, `must be at most ${MAX_SCOPES_HEADER_BYTES} bytes joined by spaces (they travel in one X-Keygate-Scopes header)`)
  .openapi({
    description: `Scopes from the configured catalogue (SCOPES plus admin, keys:read, keys:write, audit:read); at most ${MAX_SCOPES_PER_KEY}, and at most ${MAX_SCOPES_HEADER_BYTES} bytes joined by spaces`,
    example: ["demo:read"],
  });
const Meta = z
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

const CreateKeyBody = z
  .strictObject({
    name: KeyName,
    scopes: Scopes,
    ...expiryFields,
    rate_limit: RateLimitInput.optional().openapi({ description: "Shorthand for rate_limits with one limit named default" }),
    rate_limits: RateLimitsInput.optional(),
    quota: QuotaInput.optional(),
    meta: Meta.optional(),
    allowed_ips: AllowedIps.optional(),
  })
  .superRefine(refineExpiry)
  .openapi("CreateKey");

const UpdateKeyBody = z
  .strictObject({
    name: KeyName.optional(),
    scopes: Scopes.optional(),
    rate_limit: RateLimitInput.nullable().optional().openapi({ description: "Shorthand for rate_limits with one limit named default; null removes the key's own windows" }),
    rate_limits: RateLimitsInput.nullable().optional().openapi({ description: "Replaces the key's own windows; null removes them (the tier's apply)" }),
    quota: QuotaInput.nullable().optional().openapi({ description: "null removes the key's own quota (the tier's applies)" }),
    meta: Meta.nullable().optional(),
    allowed_ips: AllowedIps.nullable().optional().openapi({ description: "Replaces the list; [] or null: anywhere. An org key may only narrow it." }),
    enabled: Enabled.optional(),
  })
  .refine((body) => Object.keys(body).length > 0, { message: "give at least one of name, scopes, rate_limit, rate_limits, quota, meta, allowed_ips, enabled", when: (payload) => payload.issues.length === 0 })
  .openapi("UpdateKey");

const STATUS_NAMES = KEY_STATUSES.join("|");
const STATUS_LIST = new RegExp(`^(${STATUS_NAMES})(,(${STATUS_NAMES}))*$`);

const ListKeysQuery = z.object({
  ...pageQuery,
  sort: sortQuery(["created_at", "-created_at", "last_used_at", "-last_used_at", "expires_at", "-expires_at", "name", "-name"], "-created_at"),
  status: z
    .string()
    .max(100)
    .regex(STATUS_LIST, `must be a comma-separated list of ${KEY_STATUSES.join(", ")}`)
    .optional()
    .openapi({ description: `${KEY_STATUSES.join(", ")}; several comma-separated`, example: "active" }),
  name: z.string().min(1).max(100).optional().openapi({ description: "Case-insensitive substring of the name" }),
  unused_since: isoInstant.optional().openapi({ description: "Keys never used, or last used before this date/time" }),
  older_than: durationText(DAY_MS, 100 * 365 * DAY_MS, "90d").optional().openapi({ description: 'Keys at least this old (age_days), e.g. "90d": the ones due for rotation' }),
});

const createKeyRoute = createRoute({
  operationId: "createKey",
  method: "post",
  path: "/orgs/{org_id}/keys",
  tags: ["keys"],
  summary: "Create a key (needs keys:write); the full key is in this response only",
  description: "Scopes must be in the catalogue (at most 50), and an org key can only grant scopes it holds. Expiry: expires_in or expires_at, at most 100 years ahead. 409 key_limit_reached at the org's max_active_keys.",
  security,
  request: { params: OrgIdParam, body: jsonRequest(CreateKeyBody) },
  responses: {
    201: jsonResponse(dataOf(CreatedKeySchema), "The new key, with `key` shown this once"),
    ...errorResponses(400, 401, 403, 404, 409, 413, 415),
  },
});

const listKeysRoute = createRoute({
  operationId: "listKeys",
  method: "get",
  path: "/orgs/{org_id}/keys",
  tags: ["keys"],
  summary: "List keys (needs keys:read)",
  description: "Paged (page, per_page up to 100); filters status, name, unused_since; never the key itself.",
  security,
  request: { params: OrgIdParam, query: ListKeysQuery },
  responses: { 200: jsonResponse(pageOf(KeySchema), "A page of keys"), ...errorResponses(400, 401, 403, 404) },
});

const getKeyRoute = createRoute({
  operationId: "getKey",
  method: "get",
  path: "/orgs/{org_id}/keys/{key_id}",
  tags: ["keys"],
  summary: "Read a key (needs keys:read); never the key itself",
  description: "The key's identifier and last 4 characters identify it; the full key was shown once, at create or rotate.",
  security,
  request: { params: KeyIdParams },
  responses: { 200: jsonResponse(dataOf(KeySchema), "The key"), ...errorResponses(401, 403, 404) },
});

const updateKeyRoute = createRoute({
  operationId: "updateKey",
  method: "patch",
  path: "/orgs/{org_id}/keys/{key_id}",
  tags: ["keys"],
  summary: "Rename a key, change its scopes, rate limit, meta or allowed IPs, or disable/enable it (needs keys:write)",
  description:
    "Takes effect on the next request: the key's cached record is purged. `enabled: false` suspends the key (audited as key.disabled), `enabled: true` restores it (key.enabled). An org key may not change a key holding a scope it lacks (403 insufficient_scope). Concurrent changes are applied one after the other; 409 conflict if the key is revoked meanwhile.",
  security,
  request: { params: KeyIdParams, body: jsonRequest(UpdateKeyBody) },
  responses: { 200: jsonResponse(dataOf(KeySchema), "The updated key"), ...errorResponses(400, 401, 403, 404, 409, 413, 415) },
});

export function keyNotFound(keyId: string): KeygateError {
  return new KeygateError("not_found", `key ${keyId} not found`);
}

/**
 * Every scope must be in the configured catalogue, or a wildcard over it (`demo:*`); duplicates are
 * dropped, order kept. A refusal lists the valid scopes too (`valid_scopes`), so a client can
 * correct itself without another call (`GET /scopes` has their descriptions).
 */
function catalogueScopes(config: Config, scopes: string[]): string[] {
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

export function registerKeyRoutes(app: ManagementApp): void {
  app.openapi(createKeyRoute, async (c) => {
    const caller = c.get("caller");
    const { org_id } = c.req.valid("param");
    authorizeOrg(caller, org_id, "keys:write");
    const body = c.req.valid("json");
    const config = c.get("config");
    const scopes = catalogueScopes(config, body.scopes);
    assertCanGrant(caller, scopes);
    const allowedIps = body.allowed_ips === undefined ? null : storedAllowedIps(body.allowed_ips);
    assertCanRestrict(caller, null, allowedIps);
    const db = c.get("db");
    const org = await findOrg(db, org_id);
    if (!org) throw orgNotFound(org_id);

    const now = Date.now();
    const expiresAt = expiryOf(body, now);
    assertExpiryPolicy(config, body, expiresAt, now);
    const { key, row } = await mintKey(
      config,
      {
        orgId: org_id,
        name: body.name,
        scopes,
        expiresAt,
        rateLimit: nextKeyLimits(config, org.tier, caller, null, body),
        meta: body.meta ?? null,
        rotatedFrom: null,
        limiterId: null,
        allowedIps,
      },
      now,
    );
    // Limit check and insert are one statement, and the audit row depends on the insert: no race, nothing half-done.
    const created = { id: newId("evt"), orgId: org_id, action: "key.created" as const, actor: actorOf(caller), keyId: row.id, details: keySettings(row) };
    const [inserted] = await db.batch([insertKeyIf(db, row, underKeyLimit(db, org_id, now)), recordAuditIf(db, created, now, keyExists(db, row.id))]);
    if (changedRows(inserted) === 0) throw keyLimitReached(org_id, org.maxActiveKeys);
    // A lookup of this hash may have been cached as "unknown" (negative cache): it must not survive.
    await keyCacheOf(c).purge([row.hash]);
    await publisherOf(c)([eventOf(created, now)]);
    c.header("Cache-Control", "no-store");
    return c.json({ data: { ...presentKey(row, now), key } }, 201);
  });

  app.openapi(listKeysRoute, async (c) => {
    const { org_id } = c.req.valid("param");
    authorizeOrg(c.get("caller"), org_id, "keys:read");
    const query = c.req.valid("query");
    const db = c.get("db");
    if (!(await findOrg(db, org_id))) throw orgNotFound(org_id);
    const now = Date.now();
    const filters = {
      statuses: query.status?.split(",") as KeyStatus[] | undefined,
      name: query.name,
      unusedSince: query.unused_since === undefined ? undefined : instant(query.unused_since),
      createdBefore: query.older_than === undefined ? undefined : now - parseDuration(query.older_than)!,
    };
    const { rows, total } = await listKeys(db, org_id, filters, parseSort(query.sort), { page: query.page, perPage: query.per_page }, now);
    return c.json({ data: rows.map((row) => presentKey(row, now)), pagination: { page: query.page, per_page: query.per_page, total } }, 200);
  });

  app.openapi(getKeyRoute, async (c) => {
    const { org_id, key_id } = c.req.valid("param");
    authorizeOrg(c.get("caller"), org_id, "keys:read");
    const row = await findKey(c.get("db"), org_id, key_id);
    if (!row) throw keyNotFound(key_id);
    return c.json({ data: presentKey(row, Date.now()) }, 200);
  });

  app.openapi(updateKeyRoute, async (c) => {
    const caller = c.get("caller");
    const { org_id, key_id } = c.req.valid("param");
    authorizeOrg(caller, org_id, "keys:write");
    const body = c.req.valid("json");
    const db = c.get("db");
    const scopes = body.scopes === undefined ? undefined : catalogueScopes(c.get("config"), body.scopes);
    if (scopes !== undefined) assertCanGrant(caller, scopes);
    const allowedIps = body.allowed_ips === undefined ? undefined : storedAllowedIps(body.allowed_ips ?? []);
    // Limits are checked against the org's tier (exceeds_tier for org keys) and merged with the key's own.
    const org = hasLimitFields(body) ? await findOrg(db, org_id) : null;
    if (hasLimitFields(body) && !org) throw orgNotFound(org_id);

    // Read, check, write-if-unchanged; a lost race re-reads and re-checks (see concurrency.ts).
    return retryOnStale(`key ${key_id}`, async () => {
      const row = await findKey(db, org_id, key_id);
      if (!row) throw keyNotFound(key_id);
      if (row.revokedAt !== null) throw new KeygateError("conflict", `key ${key_id} is revoked; revocation is permanent`);
      assertCanManage(caller, row);
      const next: KeyChanges = {
        ...(body.name !== undefined ? { name: body.name } : {}),
        ...(scopes !== undefined ? { scopes } : {}),
        ...(org ? { rateLimit: nextKeyLimits(c.get("config"), org.tier, caller, row.rateLimit, body) } : {}),
        ...(body.meta !== undefined ? { meta: body.meta } : {}),
        ...(allowedIps !== undefined ? { allowedIps } : {}),
      };
      if (allowedIps !== undefined) assertCanRestrict(caller, row.allowedIps, allowedIps);
      const changes = keyChanges(row, next);
      const now = Date.now();
      // Suspending is its own event (key.disabled / key.enabled), not a settings change; repeating it changes nothing.
      const toggled = body.enabled !== undefined && body.enabled !== (row.disabledAt === null);
      const written: KeyChanges = toggled ? { ...next, disabledAt: body.enabled ? null : now } : next;
      if (Object.keys(changes).length === 0 && !toggled) return c.json({ data: presentKey(row, now) }, 200);

      const actor = actorOf(caller);
      const unchanged = keyUnchanged(db, key_id, row.version);
      // The audit inserts come first and have the same condition as the update: all or none.
      const entries = [
        ...(Object.keys(changes).length > 0 ? [{ id: newId("evt"), orgId: org_id, action: "key.updated" as const, actor, keyId: key_id, details: { changes } }] : []),
        ...(toggled ? [{ id: newId("evt"), orgId: org_id, action: body.enabled ? ("key.enabled" as const) : ("key.disabled" as const), actor, keyId: key_id, details: { name: row.name } }] : []),
      ];
      const audits = entries.map((entry) => recordAuditIf(db, entry, now, unchanged));
      const results = await db.batch([...audits, updateKey(db, key_id, written, now, row.version)] as unknown as Parameters<typeof db.batch>[0]);
      if (changedRows(results[results.length - 1]) === 0) return STALE;
      await keyCacheOf(c).purge([row.hash]);
      await tellLimiterKeyChanged(c, row, now);
      await publisherOf(c)(entries.map((entry) => eventOf(entry, now)));
      return c.json({ data: presentKey({ ...row, ...written, updatedAt: now }, now) }, 200);
    });
  });
}

const KEY_API_FIELD = { name: "name", scopes: "scopes", rateLimit: "rate_limit", meta: "meta", allowedIps: "allowed_ips" } as const;

function keyChanges(before: KeyRow, next: KeyChanges): Record<string, { from: unknown; to: unknown }> {
  const changes: Record<string, { from: unknown; to: unknown }> = {};
  for (const field of Object.keys(next) as (keyof typeof KEY_API_FIELD)[]) {
    if (JSON.stringify(before[field]) !== JSON.stringify(next[field])) changes[KEY_API_FIELD[field]] = { from: before[field], to: next[field] };
  }
  return changes;
}
