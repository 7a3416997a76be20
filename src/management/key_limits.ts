import { z } from "@hono/zod-openapi";
import type { Config } from "../config";
import { consistencyMode, MAX_LIMITS_PER_KEY, MAX_WINDOW_MS, MIN_WINDOW_MS, POLICY_NAME, quotaPeriod } from "../ratelimit/tiers";
import { formatDuration, parseDuration, writtenDuration } from "../duration";
import { KeygateError } from "../errors";
import { type KeyLimits, keyLimitsOf, type KeyWindowLimit, type StoredKeyLimits } from "../store/schema";
import type { Caller } from "./context";
import { int32 } from "./schemas";
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
 * strict, a quota no higher over the same period. The operator may set anything. Only what `body`
 * sets is checked: the windows or quota it leaves as they were (an operator's grant above the tier,
 * names of a tier the org has since left) are not the caller's doing, and must not refuse the rest.
 */
export function nextKeyLimits(config: Config, tierName: string, caller: Caller, before: StoredKeyLimits | null, body: LimitFields): KeyLimits | null {
  if (body.rate_limit != null && body.rate_limits != null) {
    throw invalidFields([{ field: "rate_limits", message: "give either rate_limit or rate_limits, not both" }]);
  }
  const current = keyLimitsOf(before) ?? {};
  let limits = current.limits;
  if (body.rate_limits !== undefined || body.rate_limit !== undefined) {
    const given = body.rate_limits ?? (body.rate_limit ? [{ name: "default", ...body.rate_limit }] : null);
    limits = given?.map((l): KeyWindowLimit => ({ name: l.name, limit: l.limit, window: parseDuration(l.window)!, text: l.window.trim(), ...(l.mode ? { mode: l.mode } : {}) }));
  }
  const quota = body.quota === undefined ? current.quota : (body.quota ?? undefined);
  const next: KeyLimits = { ...(limits ? { limits } : {}), ...(quota ? { quota } : {}) };
  const setsWindows = body.rate_limits !== undefined || body.rate_limit !== undefined;
  const set: KeyLimits = { ...(setsWindows && limits ? { limits } : {}), ...(body.quota ? { quota: body.quota } : {}) };
  checkAgainstTier(config, tierName, caller, set, body.rate_limits !== undefined ? "rate_limits" : "rate_limit");
  return next.limits || next.quota ? next : null;
}

/** `next`: only the windows and quota the request sets. */
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
  const windows = limits?.limits?.map((l) => ({ name: l.name, limit: l.limit, window: writtenWindow(l), ...(l.mode ? { mode: l.mode } : {}) })) ?? null;
  const fallback = windows?.find((w) => w.name === "default");
  return {
    rate_limit: fallback ? { limit: fallback.limit, window: fallback.window, ...(fallback.mode ? { mode: fallback.mode } : {}) } : null,
    rate_limits: windows,
    quota: limits?.quota ?? null,
  };
}

/** A key's window as its caller wrote it ("60s" stays "60s"), or for rows from before that was kept, its shortest rendering. */
export function writtenWindow(limit: Pick<KeyWindowLimit, "window" | "text">): string {
  return writtenDuration(limit.window, limit.text);
}
