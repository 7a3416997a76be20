import { z } from "zod";
import { durationSchema } from "../duration";

/**
 * The limiter's vocabulary as operators write it: a tier's windows, quota, org aggregate and
 * consistency mode (SPEC §7). `TIERS` in config.ts and a key's own limits in the management API
 * are validated with these schemas, and the limiter reads what they produce.
 */

export const consistencyMode = z.enum(["strict", "fast"]);
export type ConsistencyMode = z.infer<typeof consistencyMode>;

const DAY_MS = 86_400_000;
/** Windows between 1 s and 31 days: shorter ones cost a store call per second per key for nothing, longer ones are quotas. */
export const MIN_WINDOW_MS = 1_000;
export const MAX_WINDOW_MS = 31 * DAY_MS;
export const MAX_LIMITS_PER_KEY = 10;
/** Names the limiter gives its own policies: a window may not take them. */
export const RESERVED_POLICY_NAMES = ["quota", "org"] as const;
export const POLICY_NAME = /^[a-z][a-z0-9_-]{0,31}$/;

const windowDuration = durationSchema.refine((ms) => ms >= MIN_WINDOW_MS && ms <= MAX_WINDOW_MS, "must be between 1s and 31d");

export const quotaPeriod = z.enum(["day", "month"]);
export type QuotaPeriod = z.infer<typeof quotaPeriod>;

const windowLimit = z.strictObject({
  name: z
    .string()
    .regex(POLICY_NAME, "must be 1-32 characters: a lowercase letter, then lowercase letters, digits, _ or -")
    .refine((name) => !(RESERVED_POLICY_NAMES as readonly string[]).includes(name), 'must not be "quota" or "org" (reserved)'),
  limit: z.number().int().positive(),
  window: windowDuration,
  mode: consistencyMode.optional(),
});

const quota = z.strictObject({ limit: z.number().int().positive(), period: quotaPeriod });

/**
 * SPEC §7: `{limits: [{name, limit, window, mode?}], quota?, org_limit?, org_window?, mode?}`; the
 * v1 form `{limit, window, org_limit?, mode?}` stays valid and means one limit named `default`.
 * The org aggregate counts over `org_window`, else the window of the limit named `default`, else
 * of the first limit.
 */
export const tierSchema = z
  .strictObject({
    limits: z.array(windowLimit).min(1).max(MAX_LIMITS_PER_KEY).optional(),
    limit: z.number().int().positive().optional(),
    window: windowDuration.optional(),
    quota: quota.optional(),
    org_limit: z.number().int().positive().optional(),
    org_window: windowDuration.optional(),
    mode: consistencyMode.default("strict"),
  })
  .superRefine((raw, ctx) => {
    if (raw.limits && (raw.limit !== undefined || raw.window !== undefined)) {
      ctx.addIssue({ code: "custom", path: ["limits"], message: "give either limits or limit and window, not both" });
    } else if (!raw.limits && (raw.limit === undefined || raw.window === undefined)) {
      ctx.addIssue({ code: "custom", path: raw.limit === undefined ? ["limit"] : ["window"], message: "is required (or give limits)" });
    }
    const seen = new Set<string>();
    raw.limits?.forEach((limit, i) => {
      if (seen.has(limit.name)) ctx.addIssue({ code: "custom", path: ["limits", i, "name"], message: `"${limit.name}" is used twice` });
      seen.add(limit.name);
    });
  })
  .transform(({ limits, limit, window, quota, org_limit, org_window, mode }) => {
    const windows = (limits ?? [{ name: "default", limit: limit!, window: window! }]).map((w) => ({ name: w.name, limit: w.limit, window: w.window, mode: w.mode ?? mode }));
    const orgWindow = org_window ?? (windows.find((w) => w.name === "default") ?? windows[0]!).window;
    return { limits: windows, quota, org_limit, org_window: orgWindow, mode };
  });

/** A tier as the limiter reads it: windows in ms, each with its mode, and the org window resolved. */
export type TierConfig = z.output<typeof tierSchema>;
/** A tier as an operator writes it in `TIERS` (durations as text or ms). */
export type TierInput = z.input<typeof tierSchema>;
