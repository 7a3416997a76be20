import { createRoute, z } from "@hono/zod-openapi";
import type { Config } from "../config";
import { consistencyMode, MAX_LIMITS_PER_KEY, MAX_WINDOW_MS, MIN_WINDOW_MS, POLICY_NAME, quotaPeriod } from "../ratelimit/tiers";
import { formatDuration, parseDuration } from "../duration";
import { KeygateError } from "../errors";
import { runtimeFor } from "../isolate";
import { policySeconds } from "../ratelimit/counters";
import { secondsUntil } from "../ratelimit/headers";
import { RateLimiterUnavailableError } from "../ratelimit/interface";
import type { KeyEnd, RateLimiter } from "../ratelimit/interface";
import { limiterScope, limitPlan } from "../ratelimit/policy";
import type { KeyRow } from "../store/keys";
import { findKey } from "../store/keys";
import { findOrg } from "../store/orgs";
import { type KeyLimits, keyLimitsOf, type KeyWindowLimit, type StoredKeyLimits } from "../store/schema";
import { authorizeOrg, orgNotFound } from "./auth";
import type { Caller, ManagementApp, ManagementEnv } from "./context";
import type { Context } from "hono";
import { dataOf, errorResponses, idString, int32, int64, iso, jsonResponse, KeyIdParams, security, timestamp } from "./schemas";
import { invalidFields } from "./validation";

const windowText = z
  .string()
  .max(16)
  .refine((text) => {
    const ms = parseDuration(text);
    return ms !== null && ms >= MIN_WINDOW_MS && ms <= MAX_WINDOW_MS;
  }, 'must be a duration like "1s", "60s", "1h" or "7d", between 1s and 31d')
  .openapi({ example: "60s", pattern: "^\\d+(ms|s|m|h|d)$" });
const limitCount = int32(1, 1_000_000_000);

/** v1 shorthand: one window, the tier's `default`. */
export const RateLimitInput = z.strictObject({ limit: limitCount, window: windowText, mode: consistencyMode.optional() }).openapi("KeyRateLimitInput");

export const NamedLimitInput = z
  .strictObject({
    name: z.string().regex(POLICY_NAME, "must be a policy name of the key's tier").max(32).openapi({ example: "burst" }),
    limit: limitCount,
    window: windowText,
    mode: consistencyMode.optional(),
  })
  .openapi("KeyNamedLimitInput");

export const RateLimitsInput = z
  .array(NamedLimitInput)
  .min(1)
  .max(MAX_LIMITS_PER_KEY)
  .superRefine((limits, ctx) => {
    const seen = new Set<string>();
    limits.forEach((limit, i) => {
      if (seen.has(limit.name)) ctx.addIssue({ code: "custom", path: [i, "name"], message: `"${limit.name}" is given twice` });
      seen.add(limit.name);
    });
  })
  .openapi({ description: "Replace the tier's windows of the same names (names must be the tier's)" });

export const QuotaInput = z.strictObject({ limit: limitCount, period: quotaPeriod }).openapi("KeyQuotaInput");

/** The body fields a create or PATCH may carry about limits (`rate_limit` and `rate_limits` exclude each other). */
export interface LimitFields {
  rate_limit?: z.infer<typeof RateLimitInput> | null;
  rate_limits?: z.infer<typeof RateLimitsInput> | null;
  quota?: z.infer<typeof QuotaInput> | null;
}

export function hasLimitFields(body: LimitFields): boolean {
  return body.rate_limit !== undefined || body.rate_limits !== undefined || body.quota !== undefined;
}

/**
 * The key's stored limits after applying `body` to `before`, checked against its tier: every name
 * must be one of the tier's windows (400), and an org key may only set values at or below its
 * tier's (403 `exceeds_tier`): a limit no higher, a window no shorter, strict where the tier is
 * strict, a quota no higher over the same period. The operator may set anything.
 */
export function nextKeyLimits(config: Config, tierName: string, caller: Caller, before: StoredKeyLimits | null, body: LimitFields): KeyLimits | null {
  if (body.rate_limit != null && body.rate_limits != null) {
    throw invalidFields([{ field: "rate_limits", message: "give either rate_limit or rate_limits, not both" }]);
  }
  const current = keyLimitsOf(before) ?? {};
  let limits = current.limits;
  if (body.rate_limits !== undefined || body.rate_limit !== undefined) {
    const given = body.rate_limits ?? (body.rate_limit ? [{ name: "default", ...body.rate_limit }] : null);
    limits = given?.map((l): KeyWindowLimit => ({ name: l.name, limit: l.limit, window: parseDuration(l.window)!, ...(l.mode ? { mode: l.mode } : {}) }));
  }
  const quota = body.quota === undefined ? current.quota : (body.quota ?? undefined);
  const next: KeyLimits = { ...(limits ? { limits } : {}), ...(quota ? { quota } : {}) };
  checkAgainstTier(config, tierName, caller, next, body.rate_limits !== undefined ? "rate_limits" : "rate_limit");
  return next.limits || next.quota ? next : null;
}

function checkAgainstTier(config: Config, tierName: string, caller: Caller, next: KeyLimits, field: string): void {
  const tier = Object.hasOwn(config.tiers, tierName) ? config.tiers[tierName]! : null;
  if (!tier) throw new KeygateError("tier_unavailable", "this org's plan is not available; contact the API provider");
  const names = tier.limits.map((l) => l.name);
  const unknown = (next.limits ?? []).flatMap((l, i) =>
    names.includes(l.name) ? [] : [{ field: field === "rate_limit" ? "rate_limit" : `rate_limits[${i}].name`, message: `"${l.name}" is not a limit of tier "${tierName}" (it has: ${names.join(", ")})` }],
  );
  if (unknown.length > 0) throw invalidFields(unknown);
  if (caller.kind === "operator") return;

  const above: { field: string; message: string }[] = [];
  (next.limits ?? []).forEach((l, i) => {
    const base = tier.limits.find((t) => t.name === l.name)!;
    const at = field === "rate_limit" ? "rate_limit" : `rate_limits[${i}]`;
    if (l.limit > base.limit) above.push({ field: `${at}.limit`, message: `must be at most the tier's ${base.limit}` });
    if (l.window < base.window) above.push({ field: `${at}.window`, message: `must be at least the tier's ${formatDuration(base.window)}` });
    if (l.mode === "fast" && base.mode === "strict") above.push({ field: `${at}.mode`, message: "must stay strict: the tier's limit is strict" });
  });
  if (next.quota && tier.quota) {
    if (next.quota.period !== tier.quota.period) above.push({ field: "quota.period", message: `must be the tier's ${tier.quota.period}` });
    if (next.quota.limit > tier.quota.limit) above.push({ field: "quota.limit", message: `must be at most the tier's ${tier.quota.limit}` });
  }
  if (above.length > 0) {
    throw new KeygateError("exceeds_tier", `an org key may only set limits at or below its tier's: ${above[0]!.field} ${above[0]!.message}`, { details: above });
  }
}

// Representation -------------------------------------------------------------------------------

export const KeyRateLimitSchema = z
  .object({ limit: int32(1, 1_000_000_000).openapi({ example: 100 }), window: z.string().max(16).openapi({ example: "60s" }), mode: consistencyMode.optional() })
  .openapi("KeyRateLimit");
export const KeyNamedLimitSchema = KeyRateLimitSchema.extend({ name: z.string().max(32).openapi({ example: "burst" }) }).openapi("KeyNamedLimit");
export const KeyQuotaSchema = z.object({ limit: int32(1, 1_000_000_000), period: quotaPeriod }).openapi("KeyQuota");

export const keyLimitsFields = {
  rate_limit: KeyRateLimitSchema.nullable().openapi({ description: "The key's own `default` window (v1 shorthand); null: the tier's" }),
  rate_limits: z.array(KeyNamedLimitSchema).max(MAX_LIMITS_PER_KEY).nullable().openapi({ description: "The key's own windows, replacing the tier's of the same names; null: the tier's" }),
  quota: KeyQuotaSchema.nullable().openapi({ description: "The key's own quota; null: the tier's (if any)" }),
};

export function presentKeyLimits(stored: StoredKeyLimits | null) {
  const limits = keyLimitsOf(stored);
  const windows = limits?.limits?.map((l) => ({ name: l.name, limit: l.limit, window: formatDuration(l.window), ...(l.mode ? { mode: l.mode } : {}) })) ?? null;
  const fallback = windows?.find((w) => w.name === "default");
  return {
    rate_limit: fallback ? { limit: fallback.limit, window: fallback.window, ...(fallback.mode ? { mode: fallback.mode } : {}) } : null,
    rate_limits: windows,
    quota: limits?.quota ?? null,
  };
}

// GET /orgs/{org_id}/keys/{key_id}/limits --------------------------------------------------------

const PolicyStateSchema = z
  .object({
    name: z.string().max(32).openapi({ example: "default" }),
    kind: z.enum(["window", "quota"]),
    limit: int64(1),
    window: z.string().max(16).nullable().openapi({ description: 'The window ("60s"); null for a quota', example: "60s" }),
    period: quotaPeriod.nullable().openapi({ description: "The quota's UTC calendar period; null for a window" }),
    seconds: int32(1, 2_678_400).openapi({ description: "The span in RateLimit-Policy's w= (a month counts 30 days)" }),
    remaining: int64(0).openapi({ description: "Units left now" }),
    reset_at: timestamp.nullable().openapi({ description: "When the next unit comes back (a quota: when the period resets); null when nothing is spent" }),
    reset_seconds: int32(0, 2_678_400).nullable(),
  })
  .openapi("LimitState");

const KeyLimitsSchema = z
  .object({
    key_id: idString("key_8hQ2vN5mXcR1tLp0WzKa"),
    mode: consistencyMode,
    shared_with_rotation_chain_of: idString("key_8hQ2vN5mXcR1tLp0WzKa").openapi({ description: "The first key of this key's rotation chain: its successors share these counters" }),
    policies: z.array(PolicyStateSchema).max(32),
  })
  .openapi("KeyLimits");

const getKeyLimitsRoute = createRoute({
  method: "get",
  path: "/orgs/{org_id}/keys/{key_id}/limits",
  tags: ["keys"],
  operationId: "getKeyLimits",
  summary: "Every limit of a key with what is left, read without spending (needs keys:read)",
  description: "Windows, quota and the org aggregate, as the gateway counts them; reading spends nothing. Fast-mode spend not yet reported by an isolate is not included.",
  security,
  request: { params: KeyIdParams },
  responses: { 200: jsonResponse(dataOf(KeyLimitsSchema), "The key's limits"), ...errorResponses(401, 403, 404, 503) },
});

export function registerKeyLimitRoutes(app: ManagementApp): void {
  app.openapi(getKeyLimitsRoute, async (c) => {
    const { org_id, key_id } = c.req.valid("param");
    authorizeOrg(c.get("caller"), org_id, "keys:read");
    const db = c.get("db");
    const [row, org] = await Promise.all([findKey(db, org_id, key_id), findOrg(db, org_id)]);
    if (!org) throw orgNotFound(org_id);
    if (!row) throw new KeygateError("not_found", `key ${key_id} not found`);
    const config = c.get("config");
    const plan = limitPlan(config, { id: row.id, orgId: org_id, tier: org.tier, scopes: row.scopes, expiresAt: row.expiresAt, revokedAt: row.revokedAt, rateLimit: row.rateLimit, limiterId: row.limiterId });
    let states: { remaining: number; resetAt: number }[];
    try {
      const answer = await runtimeFor(c.env).rateLimits.limiter.store.peek(plan, 1);
      states = answer.policies.map((p) => ({ remaining: p.remaining, resetAt: p.remaining === p.limit ? 0 : p.resetAt }));
    } catch (err) {
      if (!(err instanceof RateLimiterUnavailableError)) throw err;
      throw new KeygateError("rate_limiter_unavailable", "the rate limiter is unavailable; try again shortly", { headers: { "Retry-After": "1" } });
    }
    const now = Date.now();
    return c.json(
      {
        data: {
          key_id: row.id,
          mode: plan.mode,
          shared_with_rotation_chain_of: row.limiterId ?? row.id,
          policies: plan.counters.map(({ policy }, i) => {
            const state = states[i]!;
            const reset = state.resetAt > 0 && Number.isFinite(state.resetAt) ? state.resetAt : null;
            return {
              name: policy.name,
              kind: policy.kind,
              limit: policy.limit,
              window: policy.kind === "window" ? formatDuration(policy.windowMs) : null,
              period: policy.kind === "quota" ? policy.period : null,
              seconds: policySeconds(policy),
              remaining: state.remaining,
              reset_at: iso(reset),
              reset_seconds: reset === null ? null : secondsUntil(reset, now),
            };
          }),
        },
      },
      200,
    );
  });
}

/**
 * Tells the key's limiter object that the key ended (revoke, rotate) or changed (PATCH), so every
 * gateway request for it, wherever its cached record is stale, learns it in the call it already
 * makes (SPEC §7). Best effort after the commit: D1 is the truth, and the caller's retry (revoke is
 * idempotent and tells again) finishes a notice that failed; until then the cache bound applies.
 */
async function tellLimiter(c: Context<ManagementEnv>, row: Pick<KeyRow, "id" | "orgId" | "limiterId">, what: string, tell: (store: RateLimiter, scope: string) => Promise<void>): Promise<void> {
  const config = c.get("config");
  const org = await findOrg(c.get("db"), row.orgId);
  const scope = org && limiterScope(config, { orgId: row.orgId, tier: org.tier, id: row.id, limiterId: row.limiterId });
  if (!scope) return;
  try {
    await tell(runtimeFor(c.env).rateLimits.limiter.store, scope);
  } catch (err) {
    console.warn(`keygate: telling the limiter that key ${row.id} ${what} failed (the cache bound applies until a retry): ${err instanceof Error ? err.message : "error"}`);
  }
}

export const tellLimiterKeyEnded = (c: Context<ManagementEnv>, row: Pick<KeyRow, "id" | "orgId" | "limiterId">, end: KeyEnd) =>
  tellLimiter(c, row, "ended", (store, scope) => store.endKey(scope, row.id, end));

export const tellLimiterKeyChanged = (c: Context<ManagementEnv>, row: Pick<KeyRow, "id" | "orgId" | "limiterId">, at: number) =>
  tellLimiter(c, row, "changed", (store, scope) => store.keyChanged(scope, row.id, at));
