import type { RouteRule } from "../config";
import { grantsScope } from "../auth/scopes";
import { type ErrorDetail, KeygateError } from "../errors";

/**
 * SPEC §3 step 5: which scopes (and tiers) a request needs, from the ordered `ROUTES` rules.
 *
 * Pattern semantics (the SPEC is silent; these are the documented choices):
 * - A pattern is a path of `/`-separated segments. A literal segment matches itself, case-sensitively.
 * - `:name` is a whole segment and matches exactly one non-empty segment.
 * - `*` may only be the last segment and matches the rest of the path: zero or more segments,
 *   so `/demo/*` matches `/demo`, `/demo/` and `/demo/a/b`, but never `/demox`.
 * - Methods are matched exactly: `*` matches every method, HEAD only matches rules that list
 *   HEAD (or `*`). Nothing is implied, because an implied grant is one an operator did not write.
 * - The request path is compared in a normalised form so that spellings an origin treats as the
 *   same resource cannot pick a different (weaker) rule: percent-encoded unreserved characters
 *   are decoded (`/%61dmin` is `/admin`), runs of `/` collapse to one, and one trailing `/` is
 *   ignored. Dot segments were already resolved by the URL parser. `%2F` stays encoded, so it
 *   never splits a segment. The gateway hands this module the path from path.ts (canonicalPath),
 *   which is also the path the origin receives, so matching only re-applies what is already done.
 */
export interface MatchedRule {
  /** Position in `ROUTES`, for operators reading logs. */
  index: number;
  /** The rule's path pattern as configured (e.g. "/items/:id"): a low-cardinality label for analytics. */
  path: string;
  scopes: readonly string[];
  tiers: ReadonlySet<string> | null;
  /** Units a request on this route counts against every limit (SPEC §7). */
  cost: number;
}

interface CompiledRule extends MatchedRule {
  /** null: every method. */
  methods: ReadonlySet<string> | null;
  pattern: RegExp;
}

export interface RoutePolicy {
  /** The first rule whose method and path pattern match, or null (default deny). */
  match(method: string, pathname: string): MatchedRule | null;
}

/** The scope that grants every other scope. */
export const ADMIN_SCOPE = "admin";

const PARAM_SEGMENT = /^:[A-Za-z_][A-Za-z0-9_]*$/;

/** Why a `ROUTES` path pattern is unusable, or null when it is fine. config.ts reports this at load time. */
export function routePatternProblem(path: string): string | null {
  if (!path.startsWith("/")) return "must start with /";
  if (/[?#]/.test(path)) return "must not contain a query (?) or fragment (#)";
  const segments = path.split("/").slice(1);
  for (let i = 0; i < segments.length; i++) {
    const segment = segments[i]!;
    if (segment === "*") {
      if (i !== segments.length - 1) return "* is only allowed as the last segment (it matches the rest of the path)";
    } else if (segment.includes("*")) {
      return `segment "${segment}" mixes * with text; * must be a whole segment`;
    } else if (segment.startsWith(":") && !PARAM_SEGMENT.test(segment)) {
      return `segment "${segment}" is not a valid :param name`;
    }
  }
  return null;
}

/** Compiles ROUTES; done once per config, by its Runtime (src/isolate.ts). */
export function routePolicy(routes: readonly RouteRule[]): RoutePolicy {
  const rules = routes.map(compileRule);
  return {
    match(method, pathname) {
      const path = normalizePath(pathname);
      for (const rule of rules) {
        if ((rule.methods === null || rule.methods.has(method)) && rule.pattern.test(path)) return rule;
      }
      return null;
    },
  };
}

function compileRule(rule: RouteRule, index: number): CompiledRule {
  const problem = routePatternProblem(rule.path);
  if (problem) {
    throw new KeygateError("gateway_misconfigured", `gateway configuration is invalid: ROUTES.${index}.path ${problem}`);
  }
  const methods = Array.isArray(rule.method) ? rule.method : [rule.method];
  return {
    index,
    path: rule.path,
    methods: methods.includes("*") ? null : new Set(methods),
    pattern: compilePattern(rule.path),
    scopes: rule.scopes,
    tiers: rule.tiers ? new Set(rule.tiers) : null,
    cost: rule.cost ?? 1,
  };
}

function compilePattern(path: string): RegExp {
  // Literal parts go through the URL parser like request paths do, so non-ASCII or
  // percent-encoded literals in a pattern compare equal to what a client sends.
  const normalised = normalizePath(new URL(path, "http://pattern.invalid").pathname);
  const segments = normalised === "/" ? [] : normalised.split("/").slice(1);
  let source = "^";
  for (const segment of segments) {
    if (segment === "*") source += "(?:/.*)?";
    else if (segment.startsWith(":")) source += "/[^/]+";
    else source += "/" + segment.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  }
  if (segments.length === 0) source += "/";
  return new RegExp(source + "$");
}

const UNRESERVED = /^[A-Za-z0-9\-._~]$/;
const PERCENT_ENCODED = /%([0-9A-Fa-f]{2})/g;

/** The form both patterns and request paths are compared in (see the module comment). */
export function normalizePath(pathname: string): string {
  let path = pathname;
  // Each step only allocates when its trigger character is present: the common path costs two scans.
  if (path.includes("%")) {
    path = path.replace(PERCENT_ENCODED, (encoded, hex: string) => {
      const char = String.fromCharCode(parseInt(hex, 16));
      return UNRESERVED.test(char) ? char : encoded.toUpperCase();
    });
  }
  if (path.includes("//")) path = path.replace(/\/{2,}/g, "/");
  if (path.length > 1 && path.endsWith("/")) path = path.slice(0, -1);
  return path;
}

/** What route authorization needs to know about the caller's key. */
export interface RouteCaller {
  scopes: readonly string[];
  tier: string;
}

/**
 * Throws the 404/403 a client should see, or returns the rule that admits the request.
 * Scopes are checked before tiers: a key missing a scope learns which scope to ask for
 * rather than which plan to buy.
 */
export function authorizeRoute(policy: RoutePolicy, method: string, pathname: string, caller: RouteCaller): MatchedRule {
  const rule = policy.match(method, pathname);
  if (!rule) throw new KeygateError("no_route", "no route matches this request");

  if (!caller.scopes.includes(ADMIN_SCOPE)) {
    let missing: string[] | null = null;
    for (const scope of rule.scopes) {
      if (!grantsScope(caller.scopes, scope)) (missing ??= []).push(scope);
    }
    if (missing) throw insufficientScope(rule.scopes, missing);
  }

  if (rule.tiers && !rule.tiers.has(caller.tier)) {
    throw new KeygateError("tier_not_entitled", `this route is not available on the "${caller.tier}" tier`, {
      details: [...rule.tiers].map((tier) => ({ field: "tiers", message: tier })),
    });
  }
  return rule;
}

function insufficientScope(required: readonly string[], missing: string[]): KeygateError {
  const details: ErrorDetail[] = [
    ...missing.map((scope) => ({ field: "missing_scopes", message: scope })),
    ...required.map((scope) => ({ field: "required_scopes", message: scope })),
  ];
  return new KeygateError("insufficient_scope", `the API key lacks the scopes this route requires: ${missing.join(", ")}`, {
    details,
    // RFC 6750 §3.1: a 403 for missing scope names the scope the client needs.
    headers: { "WWW-Authenticate": `Bearer realm="keygate", error="insufficient_scope", scope="${required.join(" ")}"` },
  });
}
