/**
 * `ROUTES` path patterns: what a valid one looks like, and the form patterns and request paths
 * are compared in. Imports nothing, so config.ts (validating `ROUTES` at load time) and
 * route_policy.ts (matching requests) share one definition.
 *
 * - A pattern is a path of `/`-separated segments. A literal segment matches itself, case-sensitively.
 * - `:name` is a whole segment and matches exactly one non-empty segment.
 * - `*` may only be the last segment and matches the rest of the path: zero or more segments,
 *   so `/demo/*` matches `/demo`, `/demo/` and `/demo/a/b`, but never `/demox`.
 * - The request path is compared in a normalised form so that spellings an origin treats as the
 *   same resource cannot pick a different (weaker) rule: percent-encoded unreserved characters
 *   are decoded (`/%61dmin` is `/admin`), runs of `/` collapse to one, and one trailing `/` is
 *   ignored. Dot segments were already resolved by the URL parser. `%2F` stays encoded, so it
 *   never splits a segment.
 */

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

/** A valid pattern (see `routePatternProblem`) as a regular expression over normalised paths. */
export function compilePattern(path: string): RegExp {
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
