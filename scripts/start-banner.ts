// The copy-paste walk-through `npm start` prints, built from the config that actually runs: a tier that is in
// TIERS, a scope a rule requires, and a path that rule admits, so the commands work against this gateway.
import type { Config, RouteRule } from "../src/config.ts";

export interface FirstCall {
  /** The org's tier: one the chosen rule admits. */
  tier: string;
  /** The key's scopes: what the chosen rule requires. */
  scopes: string[];
  method: string;
  /** A concrete path the rule matches (`:id` → 1, a trailing `*` → hello). */
  path: string;
  /** Which rule it exercises, 1-based, for the banner. */
  rule: number;
}

const READ_METHODS = ["GET", "*"];

/** The first rule a plain GET can exercise (else the first rule at all), as a concrete call; null when ROUTES is empty. */
export function firstCall(config: Pick<Config, "tiers" | "scopes" | "routes">): FirstCall | null {
  const methods = (rule: RouteRule) => (Array.isArray(rule.method) ? rule.method : [rule.method]);
  const index = Math.max(
    config.routes.findIndex((rule) => methods(rule).some((method) => READ_METHODS.includes(method))),
    config.routes.length > 0 ? 0 : -1,
  );
  if (index < 0) return null;
  const rule = config.routes[index]!;
  const method = methods(rule).find((m) => READ_METHODS.includes(m)) ? "GET" : methods(rule)[0]!;
  const tiers = Object.keys(config.tiers);
  const tier = rule.tiers?.find((name) => tiers.includes(name)) ?? tiers[0]!;
  // A rule with scopes = [] admits any valid key; a key still needs one scope, so it gets an operator scope.
  const scopes = rule.scopes.length > 0 ? [rule.scopes[0]!] : [Object.keys(config.scopes).find((scope) => scope.includes(":") && !scope.startsWith("keys:") && !scope.startsWith("audit:")) ?? "keys:read"];
  return { tier, scopes, method, path: concretePath(rule.path), rule: index + 1 };
}

export function concretePath(pattern: string): string {
  const segments = pattern.split("/").filter(Boolean).map((segment) => (segment === "*" ? "hello" : segment.startsWith(":") ? "1" : segment));
  return "/" + segments.join("/");
}
