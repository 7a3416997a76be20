import { ADMIN_SCOPE } from "../config";
import { KeygateError } from "../errors";
import { wwwAuthenticate } from "./credentials";

/**
 * What a key's scopes grant (issue 16), one home for the route check and the management API.
 *
 * - `admin` grants every scope.
 * - A scope grants itself.
 * - A wildcard `<prefix>:*` grants every scope that starts with `<prefix>:` (`demo:*` grants
 *   `demo:read` and `demo:items:write`), now and as the catalogue grows; it never grants `admin`,
 *   and `*` alone is not a scope (that is `admin`).
 * Pure and allocation-free for keys without wildcards: the hot path calls it once per required scope.
 */

/** `demo:*`, `demo:items:*`: a prefix of at least one segment, then `:*`, with no other `*`. */
export function isWildcard(scope: string): boolean {
  return scope.length > 2 && scope.endsWith(":*") && scope.indexOf("*") === scope.length - 1;
}

/** True when `held` grants `required` (which is a concrete scope from the catalogue). */
export function grantsScope(held: readonly string[], required: string): boolean {
  if (held.includes(required) || held.includes(ADMIN_SCOPE)) return true;
  for (const scope of held) {
    // "demo:*" covers "demo:read": the prefix with its colon, i.e. the wildcard without the "*".
    if (isWildcard(scope) && required.length > scope.length - 1 && required.startsWith(scope.slice(0, -1))) return true;
  }
  return false;
}

/**
 * True when a caller holding `held` may hand out `scope` (concrete or a wildcard). A wildcard is
 * only granted by `admin` or a wildcard at least as broad: holding every `demo:` scope of today's
 * catalogue is not enough, because `demo:*` also grants the ones added tomorrow.
 */
export function mayGrant(held: readonly string[], scope: string): boolean {
  if (!isWildcard(scope)) return grantsScope(held, scope);
  if (held.includes(ADMIN_SCOPE)) return true;
  return held.some((h) => isWildcard(h) && scope.startsWith(h.slice(0, -1)));
}

/**
 * Why `scope` cannot be given to a key, or null: it must be in the catalogue, or be a wildcard
 * over at least one catalogue scope (a wildcard matching nothing is almost certainly a typo).
 */
export function scopeProblem(scope: string, catalogue: Readonly<Record<string, string>>): string | null {
  if (Object.hasOwn(catalogue, scope)) return null;
  if (scope === "*") return `"*" is not a scope; the admin scope grants every scope`;
  if (isWildcard(scope)) {
    const prefix = scope.slice(0, -1);
    return Object.keys(catalogue).some((name) => name.startsWith(prefix) && name.length > prefix.length) ? null : `"${scope}" matches no scope in the catalogue`;
  }
  if (scope.includes("*")) return `"${scope}": a wildcard is only allowed as the last segment, as in demo:*`;
  return `"${scope}" is not in the scope catalogue`;
}

/**
 * 403 `insufficient_scope` (SPEC §3 step 5, §9): the calling key lacks `missing`, so `details` name
 * the scopes the request requires. The two callers keep the shapes their clients already read:
 * - `route` (the gateway): a `missing_scopes` entry per missing scope and a `required_scopes` entry
 *   per scope of the rule, and a `WWW-Authenticate` challenge naming the required scopes, as
 *   RFC 6750 §3.1 asks of a bearer-token API.
 * - `management` (the management API, where an operation requires one scope): a
 *   `{ field: "scopes", message: "requires <scope>" }` entry per missing scope, no challenge.
 */
export function insufficientScope(check: { route: readonly string[] } | "management", missing: readonly string[]): KeygateError {
  if (check === "management") {
    return new KeygateError("insufficient_scope", `this key lacks the scope ${missing.join(", ")}`, {
      details: missing.map((scope) => ({ field: "scopes", message: `requires ${scope}` })),
    });
  }
  const required = check.route;
  return new KeygateError("insufficient_scope", `the API key lacks the scopes this route requires: ${missing.join(", ")}`, {
    details: [...missing.map((scope) => ({ field: "missing_scopes", message: scope })), ...required.map((scope) => ({ field: "required_scopes", message: scope }))],
    headers: { "WWW-Authenticate": wwwAuthenticate("insufficient_scope", required) },
  });
}
