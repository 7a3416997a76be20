import { ADMIN_SCOPE, type RouteRule } from "../config";
import { grantsScope, insufficientScope } from "../auth/scopes";
import { KeygateError } from "../errors";
import { withoutPathParameters } from "./path";
import { compilePattern, normalizePath, routePatternProblem } from "./route_pattern";

/**
 * SPEC §3 step 5: which scopes (and tiers) a request needs, from the ordered `ROUTES` rules.
 *
 * Pattern semantics (the SPEC is silent; these are the documented choices):
 * - Path patterns and the normalised form requests are compared in: route_pattern.ts.
 * - Methods are matched exactly: `*` matches every method, HEAD only matches rules that list
 *   HEAD (or `*`). Nothing is implied, because an implied grant is one an operator did not write.
 * - The gateway hands this module the path from path.ts (canonicalPath),
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
  /** The same pattern, letters matched in either case: how a case-insensitive origin routes. */
  patternIgnoringCase: RegExp;
}

export interface RoutePolicy {
  /** The first rule whose method and path pattern match, or null (default deny). */
  match(method: string, pathname: string): MatchedRule | null;
  /** The first rule that matches with letters compared in either case (Express's default routing, IIS, Windows file systems). */
  matchIgnoringCase(method: string, pathname: string): MatchedRule | null;
  /**
   * Whether `matchIgnoringCase` can answer differently from `match` for this path. It cannot when
   * neither the path nor any rule's pattern holds an upper-case letter: patterns are ASCII literals
   * plus `[^/]+` and `.*` (route_pattern.ts), and a request path is ASCII (the URL parser
   * percent-encodes the rest; `%` is counted as a letter, since normalising upper-cases its hex).
   */
  caseCanMatter(pathname: string): boolean;
}

/** Compiles ROUTES; done once per config, by its Runtime (src/isolate.ts). */
export function routePolicy(routes: readonly RouteRule[]): RoutePolicy {
  const rules = routes.map(compileRule);
  const upperCaseInRules = rules.some((rule) => UPPER_CASE.test(rule.pattern.source));
  return {
    match(method, pathname) {
      const path = normalizePath(pathname);
      for (const rule of rules) {
        if ((rule.methods === null || rule.methods.has(method)) && rule.pattern.test(path)) return rule;
      }
      return null;
    },
    matchIgnoringCase(method, pathname) {
      const path = normalizePath(pathname);
      for (const rule of rules) {
        if ((rule.methods === null || rule.methods.has(method)) && rule.patternIgnoringCase.test(path)) return rule;
      }
      return null;
    },
    caseCanMatter: (pathname) => upperCaseInRules || UPPER_CASE_OR_ESCAPE.test(pathname),
  };
}

const UPPER_CASE = /[A-Z]/;
const UPPER_CASE_OR_ESCAPE = /[A-Z%]/;

function compileRule(rule: RouteRule, index: number): CompiledRule {
  const problem = routePatternProblem(rule.path);
  if (problem) {
    throw new KeygateError("gateway_misconfigured", `gateway configuration is invalid: ROUTES.${index}.path ${problem}`);
  }
  const methods = Array.isArray(rule.method) ? rule.method : [rule.method];
  const pattern = compilePattern(rule.path);
  return {
    index,
    path: rule.path,
    methods: methods.includes("*") ? null : new Set(methods),
    pattern,
    patternIgnoringCase: new RegExp(pattern.source, "i"),
    scopes: rule.scopes,
    tiers: rule.tiers ? new Set(rule.tiers) : null,
    cost: rule.cost ?? 1,
  };
}

/**
 * SPEC §9: the rule chosen for the path as written must be the rule for the path as the origin may
 * read it. Two common readings differ from ours:
 * - path parameters: Tomcat, Jetty and Spring route `/demo/internal;x/secret` as
 *   `/demo/internal/secret` (each segment without its `;…`);
 * - letter case: Express (by default), IIS and anything on a Windows file system route
 *   `/demo/INTERNAL/secret` as `/demo/internal/secret`.
 * When such a reading picks a different rule than the path as written (a stricter one, typically:
 * the path was spelled around it), no single reading is safe to forward: 400 `invalid_path`, before
 * any lookup. Spellings that change no rule (`/items/1;v=2`, `/items/AbC` under `/items/*`) pass
 * untouched, and a path no rule matches as written is left to the 404. Returns the rule the path
 * matches as written (null: none), which `authorizeRule` then judges: a request is matched once.
 */
export function assertUnambiguousRoute(policy: RoutePolicy, method: string, path: string): MatchedRule | null {
  const asWritten = policy.match(method, path);
  if (asWritten === null) return null;
  if (policy.caseCanMatter(path) && policy.matchIgnoringCase(method, path) !== asWritten) {
    throw new KeygateError("invalid_path", "this path, read with letters in either case, matches another route");
  }
  if (!path.includes(";")) return asWritten;
  const stripped = withoutPathParameters(path);
  if (policy.match(method, stripped) !== asWritten || (policy.caseCanMatter(stripped) && policy.matchIgnoringCase(method, stripped) !== asWritten)) {
    throw new KeygateError("invalid_path", "path parameters (;) in this path change which route applies");
  }
  return asWritten;
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
  return authorizeRule(policy.match(method, pathname), caller);
}

/** `authorizeRoute` for a request already matched (by `assertUnambiguousRoute`): `rule` null is the 404. */
export function authorizeRule(rule: MatchedRule | null, caller: RouteCaller): MatchedRule {
  if (!rule) throw new KeygateError("no_route", "no route matches this request");

  if (!caller.scopes.includes(ADMIN_SCOPE)) {
    let missing: string[] | null = null;
    for (const scope of rule.scopes) {
      if (!grantsScope(caller.scopes, scope)) (missing ??= []).push(scope);
    }
    if (missing) throw insufficientScope({ route: rule.scopes }, missing);
  }

  if (rule.tiers && !rule.tiers.has(caller.tier)) {
    throw new KeygateError("tier_not_entitled", `this route is not available on the "${caller.tier}" tier`, {
      details: [...rule.tiers].map((tier) => ({ field: "tiers", message: tier })),
    });
  }
  return rule;
}
