import { createRoute, z } from "@hono/zod-openapi";
import { scopeProblem } from "../auth/scopes";
import { type Config, consistencyMode } from "../config";
import { parseDuration } from "../duration";
import { KeygateError } from "../errors";
import { expiryPolicyProblem } from "../hygiene/expiry_policy";
import { displayParts, generateKey } from "../keys/format";
import { hashKey } from "../keys/hash";
import { newId } from "../keys/ids";
import { recordAudit, recordAuditIf } from "../store/audit";
import { changedRows } from "../store/conditional";
import { findKey, insertKeyIf, KEY_STATUSES, keyExists, type KeyChanges, type KeyRow, type KeyStatus, listKeys, underKeyLimit, updateKey } from "../store/keys";
import type { KeyRateLimit } from "../store/schema";
import { findOrg } from "../store/orgs";
import { assertCanGrant, authorizeOrg, orgNotFound } from "./auth";
import { actorOf, keyCacheOf, type ManagementApp } from "./context";
import { CreatedKeySchema, KeySchema, presentKey } from "./representations";
import { AllowedIps, assertCanRestrict, Enabled, storedAllowedIps } from "./restrictions";
import { dataOf, errorResponses, instant, isoInstant, jsonRequest, jsonResponse, KeyIdParams, OrgIdParam, pageOf, pageQuery, parseSort, security, sortQuery } from "./schemas";
import { invalidField, invalidFields } from "./validation";

const DAY_MS = 86_400_000;

/** A duration text within [min, max] milliseconds. */
export const durationText = (min: number, max: number, example: string) =>
  z
    .string()
    .refine((text) => {
      const ms = parseDuration(text);
      return ms !== null && ms >= min && ms <= max;
    }, `must be a duration like "60s", "15m", "1h" or "7d", between ${min / 1000}s and ${max / DAY_MS}d`)
    .openapi({ example });

const KeyName = z.string().trim().min(1).max(100).openapi({ example: "CI pipeline" });
const Scopes = z
  .array(z.string().min(1).max(100))
  .min(1)
  .max(100)
  .openapi({ description: "Scopes from the configured catalogue (SCOPES plus admin, keys:read, keys:write, audit:read)", example: ["demo:read"] });
const RateLimitInput = z
  .strictObject({
    limit: z.number().int().min(1).max(1_000_000_000),
    window: durationText(1_000, DAY_MS, "60s"),
    mode: consistencyMode.optional(),
  })
  .openapi("KeyRateLimitInput");
const Meta = z
  .record(z.string().max(100), z.unknown())
  .refine((meta) => JSON.stringify(meta).length <= 4096, "must be at most 4096 bytes as JSON")
  .openapi({ description: "Free-form JSON object (at most 4 KiB), returned as given", example: { team: "payments" } });

const POLICY_NOTE = "The operator may require an expiry (REQUIRE_KEY_EXPIRY) or cap the lifetime (MAX_KEY_LIFETIME): a key outside the policy is refused 400, the rule named.";

/** `expires_in` / `expires_at`, shared by create and rotate. */
export const expiryFields = {
  expires_in: z.enum(["30d", "90d", "1y", "never"]).optional().openapi({ description: `Lifetime from now; "never" for no expiry. ${POLICY_NOTE}` }),
  expires_at: z.iso.datetime({ offset: true }).optional().openapi({ description: "Exact expiry (future); instead of expires_in" }),
};

export function refineExpiry(body: { expires_in?: string; expires_at?: string }, ctx: z.RefinementCtx): void {
  if (body.expires_in !== undefined && body.expires_at !== undefined) {
    ctx.addIssue({ code: "custom", path: ["expires_at"], message: "give either expires_in or expires_at, not both" });
  } else if (body.expires_at !== undefined && Date.parse(body.expires_at) <= Date.now()) {
    ctx.addIssue({ code: "custom", path: ["expires_at"], message: "must be in the future" });
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
    rate_limit: RateLimitInput.optional(),
    meta: Meta.optional(),
    allowed_ips: AllowedIps.optional(),
  })
  .superRefine(refineExpiry)
  .openapi("CreateKey");

const UpdateKeyBody = z
  .strictObject({
    name: KeyName.optional(),
    scopes: Scopes.optional(),
    rate_limit: RateLimitInput.nullable().optional().openapi({ description: "null removes the override (the tier's limit applies)" }),
    meta: Meta.nullable().optional(),
    allowed_ips: AllowedIps.nullable().optional().openapi({ description: "Replaces the list; [] or null: anywhere. An org key may only narrow it." }),
    enabled: Enabled.optional(),
  })
  .refine((body) => Object.keys(body).length > 0, { message: "give at least one of name, scopes, rate_limit, meta, allowed_ips, enabled", when: (payload) => payload.issues.length === 0 })
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
  method: "post",
  path: "/orgs/{org_id}/keys",
  tags: ["keys"],
  summary: "Create a key (needs keys:write); the full key is in this response only",
  security,
  request: { params: OrgIdParam, body: jsonRequest(CreateKeyBody) },
  responses: {
    201: jsonResponse(dataOf(CreatedKeySchema), "The new key, with `key` shown this once"),
    ...errorResponses(400, 401, 403, 404, 409, 413, 415),
  },
});

const listKeysRoute = createRoute({
  method: "get",
  path: "/orgs/{org_id}/keys",
  tags: ["keys"],
  summary: "List keys (needs keys:read)",
  security,
  request: { params: OrgIdParam, query: ListKeysQuery },
  responses: { 200: jsonResponse(pageOf(KeySchema), "A page of keys"), ...errorResponses(400, 401, 403, 404) },
});

const getKeyRoute = createRoute({
  method: "get",
  path: "/orgs/{org_id}/keys/{key_id}",
  tags: ["keys"],
  summary: "Read a key (needs keys:read); never the key itself",
  security,
  request: { params: KeyIdParams },
  responses: { 200: jsonResponse(dataOf(KeySchema), "The key"), ...errorResponses(401, 403, 404) },
});

const updateKeyRoute = createRoute({
  method: "patch",
  path: "/orgs/{org_id}/keys/{key_id}",
  tags: ["keys"],
  summary: "Rename a key, change its scopes, rate limit, meta or allowed IPs, or disable/enable it (needs keys:write)",
  description:
    "Takes effect on the next request: the key's cached record is purged. `enabled: false` suspends the key (audited as key.disabled), `enabled: true` restores it (key.enabled).",
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

function storedRateLimit(input: z.infer<typeof RateLimitInput>): KeyRateLimit {
  return { limit: input.limit, window: parseDuration(input.window)!, ...(input.mode ? { mode: input.mode } : {}) };
}

export function expiryOf(body: { expires_in?: string; expires_at?: string }, now: number): number | null {
  if (body.expires_at !== undefined) return Date.parse(body.expires_at);
  if (body.expires_in === undefined || body.expires_in === "never") return null;
  return now + parseDuration(body.expires_in)!;
}

/**
 * A new key and its row. The row holds the hash and the display parts; the key itself leaves
 * this function only to be shown once in the response.
 */
export async function mintKey(config: Config, fields: Pick<KeyRow, "orgId" | "name" | "scopes" | "expiresAt" | "rateLimit" | "meta" | "rotatedFrom" | "allowedIps">, now: number) {
  const key = generateKey(config.keyPrefix);
  const row: KeyRow = {
    ...fields,
    id: newId("key"),
    hash: await hashKey(key),
    ...displayParts(key, config.keyPrefix),
    createdAt: now,
    updatedAt: now,
    revokedAt: null,
    lastUsedAt: null,
    disabledAt: null,
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
      { orgId: org_id, name: body.name, scopes, expiresAt, rateLimit: body.rate_limit ? storedRateLimit(body.rate_limit) : null, meta: body.meta ?? null, rotatedFrom: null, allowedIps },
      now,
    );
    // Limit check and insert are one statement, and the audit row depends on the insert: no race, nothing half-done.
    const [inserted] = await db.batch([
      insertKeyIf(db, row, underKeyLimit(db, org_id, now)),
      recordAuditIf(db, { orgId: org_id, action: "key.created", actor: actorOf(caller), keyId: row.id, details: keySettings(row) }, now, keyExists(db, row.id)),
    ]);
    if (changedRows(inserted) === 0) throw keyLimitReached(org_id, org.maxActiveKeys);
    // A lookup of this hash may have been cached as "unknown" (negative cache): it must not survive.
    await keyCacheOf(c).purge([row.hash]);
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
    const row = await findKey(db, org_id, key_id);
    if (!row) throw keyNotFound(key_id);
    if (row.revokedAt !== null) throw new KeygateError("conflict", `key ${key_id} is revoked; revocation is permanent`);
    const scopes = body.scopes === undefined ? undefined : catalogueScopes(c.get("config"), body.scopes);
    if (scopes !== undefined) assertCanGrant(caller, scopes);
    const allowedIps = body.allowed_ips === undefined ? undefined : storedAllowedIps(body.allowed_ips ?? []);
    if (allowedIps !== undefined) assertCanRestrict(caller, row.allowedIps, allowedIps);

    const now = Date.now();
    const next: KeyChanges = {
      ...(body.name !== undefined ? { name: body.name } : {}),
      ...(scopes !== undefined ? { scopes } : {}),
      ...(body.rate_limit !== undefined ? { rateLimit: body.rate_limit === null ? null : storedRateLimit(body.rate_limit) } : {}),
      ...(body.meta !== undefined ? { meta: body.meta } : {}),
      ...(allowedIps !== undefined ? { allowedIps } : {}),
    };
    const changes = keyChanges(row, next);
    // Suspending is its own event (key.disabled / key.enabled), not a settings change; repeating it changes nothing.
    const toggled = body.enabled !== undefined && body.enabled !== (row.disabledAt === null);
    if (toggled) next.disabledAt = body.enabled ? null : now;
    if (Object.keys(changes).length === 0 && !toggled) return c.json({ data: presentKey(row, now) }, 200);

    const actor = actorOf(caller);
    await db.batch([
      updateKey(db, key_id, next, now),
      ...(Object.keys(changes).length > 0 ? [recordAudit(db, { orgId: org_id, action: "key.updated", actor, keyId: key_id, details: { changes } }, now)] : []),
      ...(toggled ? [recordAudit(db, { orgId: org_id, action: body.enabled ? "key.enabled" : "key.disabled", actor, keyId: key_id, details: { name: row.name } }, now)] : []),
    ]);
    await keyCacheOf(c).purge([row.hash]);
    return c.json({ data: presentKey({ ...row, ...next, updatedAt: now }, now) }, 200);
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
