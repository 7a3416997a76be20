import type { KeyRecord } from "../store/key_records";
import type { Config } from "../config";
import { KeygateError } from "../errors";
import { keyLimitsOf } from "../store/schema";
import type { Policy } from "./counters";
import type { ConsistencyMode } from "./tiers";

/** One counter the limiter keeps: a policy and the name it is stored under. */
export interface Counter {
  /**
   * Unique within its scope: `k:<chain root>:<name>`, `k:<root>:quota:<period>`, `o:<org>:org`. A
   * window's id leaves out its length, so a changed length keeps counting what was spent
   * (counters.ts `carryOver`); a new length under a new id would start from nothing.
   */
  id: string;
  policy: Policy;
}

/** Everything the limiter needs to decide a key's requests, derived from its cached record and the config. */
export interface LimitPlan {
  /**
   * The limiter object (Durable Object name, Redis hash tag) holding every counter of the plan, so
   * one call decides them all: the org (`org:<id>`) when its tier has an org aggregate, else the
   * key's rotation chain (`key:<first key id>`), so a rotated key keeps its predecessor's budget.
   */
  scope: string;
  keyId: string;
  counters: Counter[];
  /** Strict unless every window of the key is fast. */
  mode: ConsistencyMode;
  /** The record's `updatedAt` (0 when unknown): the limiter answers `changedAt` when it knows a later change. */
  version: number;
}

/**
 * The key's tier from TIERS. A tier removed from TIERS while orgs still use it refuses their keys,
 * with or without their own limits, with one code that names no config: their plan, their route
 * entitlements and the tier sent to the origin would all be guesses (check-config warns about it).
 */
export function tierOf(config: Config, record: Pick<KeyRecord, "tier">) {
  if (!Object.hasOwn(config.tiers, record.tier)) throw new KeygateError("tier_unavailable", "this key's plan is not available; contact the API provider");
  return config.tiers[record.tier]!;
}

/**
 * The key's policies: its tier's windows, each replaced by the key's own of the same name (a name the
 * tier lacks adds a window), the key's quota else the tier's, and the org aggregate.
 */
export function limitPlan(config: Config, record: KeyRecord): LimitPlan {
  const tier = tierOf(config, record);
  const own = keyLimitsOf(record.rateLimit);
  const root = record.limiterId ?? record.id;
  const windows = tier.limits.map((w) => {
    const mine = own?.limits?.find((o) => o.name === w.name);
    return mine ? { name: w.name, limit: mine.limit, window: mine.window, mode: mine.mode ?? w.mode } : w;
  });
  for (const extra of own?.limits ?? []) {
    if (!tier.limits.some((w) => w.name === extra.name)) windows.push({ name: extra.name, limit: extra.limit, window: extra.window, mode: extra.mode ?? tier.mode });
  }
  const counters: Counter[] = windows.map((w) => ({ id: `k:${root}:${w.name}`, policy: { name: w.name, kind: "window", limit: w.limit, windowMs: w.window } }));
  const quota = own?.quota ?? tier.quota;
  if (quota) counters.push({ id: `k:${root}:quota:${quota.period}`, policy: { name: "quota", kind: "quota", limit: quota.limit, period: quota.period } });
  if (tier.org_limit) {
    counters.push({ id: `o:${record.orgId}:org`, policy: { name: "org", kind: "window", limit: tier.org_limit, windowMs: tier.org_window } });
  }
  return {
    scope: tier.org_limit ? `org:${record.orgId}` : `key:${root}`,
    keyId: record.id,
    counters,
    mode: windows.every((w) => w.mode === "fast") ? "fast" : "strict",
    version: record.updatedAt ?? 0,
  };
}

/** The limiter scope holding a key's counters (see `LimitPlan.scope`), or null when its tier is not in TIERS. */
export function limiterScope(config: Config, key: { orgId: string; tier: string; id: string; limiterId?: string | null }): string | null {
  if (!Object.hasOwn(config.tiers, key.tier)) return null;
  return config.tiers[key.tier]!.org_limit ? `org:${key.orgId}` : `key:${key.limiterId ?? key.id}`;
}

/** A plan of one strict window for an identifier that is not a key (abuse limits: failed authentications per source, management calls per credential). */
export function singleWindowPlan(identifier: string, limit: number, windowMs: number): LimitPlan {
  return {
    scope: identifier,
    keyId: identifier,
    counters: [{ id: `w:${windowMs}`, policy: { name: "default", kind: "window", limit, windowMs } }],
    mode: "strict",
    version: 0,
  };
}
