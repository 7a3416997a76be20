import type { Config } from "../config";
import { formatDuration } from "../duration";
import type { LimitRow } from "./pages/key_detail";

// The key page's "Limits" rows, from the config the API enforces and from what the API reports live.
// Both are read defensively: a tier may be `{limit, window}` or `{limits: [...], quota?}`, and the
// live answer's fields are shown as they come when their shape is not the one known here.

/** The tier's limits in words, from the config the API enforces (whatever shape the tier has). */
export function tierLimitText(config: Config, tierName: string | undefined): string | null {
  const tier = tierName ? (config.tiers[tierName] as Record<string, unknown> | undefined) : undefined;
  if (!tier) return null;
  const limits = Array.isArray(tier.limits) ? (tier.limits as Array<Record<string, unknown>>) : [tier];
  // The v1 form is parsed into one window named "default": it reads as before, without the name.
  const single = limits.length === 1 && limits[0]!.name === "default";
  const text = limits.map((l) => `${l.limit} per ${typeof l.window === "number" ? formatDuration(l.window) : String(l.window)}${l.name && !single ? ` (${l.name})` : ""}`).join(", ");
  const quota = tier.quota as { limit?: number; period?: string } | undefined;
  return `${tierName}: ${text}${quota?.limit ? `, quota ${quota.limit} per ${quota.period}` : ""}`;
}

/** Rows from `GET …/keys/{key}/limits`: one per policy (`remaining of limit per window`), or its fields as given. */
export function liveLimitRows(data: unknown): LimitRow[] {
  if (!data || typeof data !== "object") return [];
  const policies = (data as { policies?: unknown }).policies;
  if (!Array.isArray(policies)) {
    return Object.entries(data).map(([name, value]) => ({ name: `Now: ${name}`, text: typeof value === "object" ? JSON.stringify(value) : String(value) }));
  }
  return (policies as Array<Record<string, unknown>>).map((policy) => {
    const span = policy.window ?? policy.period ?? "";
    const reset = typeof policy.reset_at === "string" ? `, next unit back at ${policy.reset_at.slice(11, 19)} UTC` : "";
    return { name: `Left now: ${String(policy.name ?? policy.kind ?? "limit")}`, text: `${String(policy.remaining)} of ${String(policy.limit)} per ${String(span)}${reset}` };
  });
}
