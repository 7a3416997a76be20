import { renderError } from "../errors";
import { type CorsConfig, WILDCARD_ORIGIN } from "./cors_config";
import { canonicalPath } from "./path";
import { assertUnambiguousRoute, type RoutePolicy } from "./route_policy";

/**
 * CORS for browser callers (issue 14). A preflight carries no API key, so without this a browser
 * gets 401 before it may send the real request. With `CORS` configured the gateway answers
 * preflights from allowed origins itself (204, no key, nothing counted or proxied) and marks every
 * answer to an allowed origin, proxied or refused, so the page can read the status, the error
 * envelope and the rate-limit headers. Without `CORS` nothing here runs beyond one property read.
 *
 * Hand-written rather than `hono/cors`: the hot path does not run through Hono (app.ts), and the
 * preflight must consult the route policy ("a method some route allows"), which hono/cors cannot.
 */

/** The headers a browser page may read on our answers besides the CORS-safelisted ones. */
const EXPOSED_BY_DEFAULT = ["RateLimit", "RateLimit-Policy", "X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset", "Retry-After", "WWW-Authenticate"];
/** What a browser needs to send a key and a JSON body; `headers` replaces it. */
const ALLOWED_BY_DEFAULT = ["Authorization", "X-API-Key", "Content-Type"];

export interface CorsPolicy {
  /** `origins` is `["*", …]`: every origin gets `Access-Control-Allow-Origin: *`. */
  any: boolean;
  /** The `Access-Control-Allow-Origin` value for this request's origin, or null when it is not allowed. */
  allowOrigin(origin: string): string | null;
  config: CorsConfig;
  exposeHeaders: string;
  allowHeaders: string;
}

/** Compiled once per config, by its Runtime (src/isolate.ts). */
export function corsPolicy(config: CorsConfig): CorsPolicy {
  const any = config.origins.includes("*");
  const exact = new Set(config.origins.filter((o) => !o.includes("*")));
  const wildcards = config.origins.flatMap((o) => {
    const match = WILDCARD_ORIGIN.exec(o);
    return match ? [{ scheme: `${match[1]}://`, suffix: `.${match[2]}` }] : [];
  });
  return {
    any,
    config,
    allowOrigin(origin) {
      if (any) return "*";
      if (exact.has(origin)) return origin;
      for (const { scheme, suffix } of wildcards) {
        // The labels in front of the suffix must be a host name's: no port, path or credentials can hide there.
        if (origin.startsWith(scheme) && origin.endsWith(suffix) && /^[a-z0-9-]+(\.[a-z0-9-]+)*$/.test(origin.slice(scheme.length, -suffix.length))) return origin;
      }
      return null;
    },
    exposeHeaders: [...new Set([...EXPOSED_BY_DEFAULT, ...(config.expose_headers ?? [])])].join(", "),
    allowHeaders: allowedHeaders(config.headers ?? ALLOWED_BY_DEFAULT).join(", "),
  };
}

/**
 * `Access-Control-Allow-Headers: *` lets a page send any header except `Authorization`, which the
 * Fetch standard leaves out of the wildcard: named here, so `headers = ["*"]` does let a key through.
 * (With credentials `"*"` is refused by the config: browsers read it literally then.)
 */
function allowedHeaders(headers: readonly string[]): readonly string[] {
  return headers.includes("*") && !headers.some((name) => name.toLowerCase() === "authorization") ? [...headers, "Authorization"] : headers;
}

/**
 * Runs the gateway (`next`) with CORS around it. A preflight from an allowed origin for a method
 * that `CORS.methods` (if set) and some `ROUTES` rule allow on this path is answered here, without
 * a key; any other preflight goes on to the gateway like any request and gets no CORS headers
 * beyond `Access-Control-Allow-Origin`, so the browser refuses it.
 *
 * Once `CORS` is set every answer passes through `decorate`, also to a request without an `Origin`:
 * a cache (the browser's own included) may store such an answer and hand it to a page's CORS request
 * later, so it must already say how it varies (Fetch standard, "CORS protocol and HTTP caches").
 */
export function withCors(request: Request, policy: CorsPolicy | null, routes: RoutePolicy, url: URL, next: () => Promise<Response>): Promise<Response> {
  // Not async up to here: a request without CORS work costs no extra promise.
  if (!policy) return next();
  const origin = request.headers.get("origin");
  const allowOrigin = origin === null ? (policy.any ? "*" : null) : policy.allowOrigin(origin);

  if (allowOrigin !== null && origin !== null && request.method === "OPTIONS") {
    const method = request.headers.get("access-control-request-method");
    if (method !== null && METHOD_TOKEN.test(method) && (!policy.config.methods || (policy.config.methods as readonly string[]).includes(method)) && preflightRoute(routes, method, url.pathname)) {
      return Promise.resolve(new Response(null, { status: 204, headers: preflightHeaders(policy, allowOrigin, method) }));
    }
  }
  // A failure the gateway did not turn into an answer still gets its envelope, readable by the page.
  return next().then(
    (response) => decorate(response, policy, allowOrigin),
    (err: unknown) => decorate(renderError(err), policy, allowOrigin),
  );
}

/**
 * A method as a browser sends it in Access-Control-Request-Method: one HTTP token (RFC 9110). Anything
 * else (empty, a list, a kilobyte of text) is no preflight a browser sent, and is never echoed into
 * Access-Control-Allow-Methods.
 */
const METHOD_TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,32}$/;

/**
 * Whether some rule allows `method` on the path the gateway would forward. A path the gateway refuses
 * (400 `invalid_path`) is not vouched for here: the preflight goes on to the gateway and gets that 400,
 * instead of a 204 for a request that can never succeed.
 */
function preflightRoute(routes: RoutePolicy, method: string, pathname: string): boolean {
  try {
    return assertUnambiguousRoute(routes, method, canonicalPath(pathname)) !== null;
  } catch {
    return false;
  }
}

function preflightHeaders(policy: CorsPolicy, allowOrigin: string, method: string): Headers {
  const headers = new Headers({
    "Access-Control-Allow-Origin": allowOrigin,
    "Access-Control-Allow-Methods": policy.config.methods?.join(", ") ?? method,
    "Access-Control-Allow-Headers": policy.allowHeaders,
    "Access-Control-Max-Age": String(policy.config.max_age),
    Vary: "Origin",
  });
  if (policy.config.credentials) headers.set("Access-Control-Allow-Credentials", "true");
  return headers;
}

/**
 * Every response header of the CORS protocol (Fetch standard) and of Private Network Access. A fixed
 * list, not a scan of the response's headers for the prefix: this runs on every answer once `CORS` is
 * set, and seven deletes cost a fraction of iterating the headers.
 */
const CORS_RESPONSE_HEADERS = [
  "access-control-allow-origin",
  "access-control-allow-credentials",
  "access-control-allow-methods",
  "access-control-allow-headers",
  "access-control-max-age",
  "access-control-expose-headers",
  "access-control-allow-private-network",
];

/**
 * The gateway owns CORS once `CORS` is set: every `Access-Control-*` header the origin server sent
 * (its own CORS middleware's allow-anything, credentials, max-age, private-network answers) is
 * removed, and only the policy's are set, so a disallowed origin gets no CORS headers at all.
 * Every answer says `Vary: Origin` unless the policy is `"*"`, whose answers are the same for
 * every origin (and carry `Access-Control-Allow-Origin: *` even without an Origin).
 *
 * Without an `Access-Control-Allow-Origin` of ours or theirs the other CORS headers cannot make a
 * browser do anything (every CORS check starts with it), so an answer to a request without an
 * allowed Origin is only scrubbed when the origin server sent one: on the common path (no Origin, a
 * proxied answer without CORS headers) this is two header reads and the Vary.
 */
function decorate(response: Response, policy: CorsPolicy, allowOrigin: string | null): Response {
  const theirs = response.headers.has("access-control-allow-origin");
  const addVary = !policy.any && !variesOnOrigin(response.headers.get("vary"));
  if (!theirs && allowOrigin === null && !addVary) return response;
  const out = mutable(response);
  const headers = out.headers;
  if (theirs || allowOrigin !== null) for (const name of CORS_RESPONSE_HEADERS) headers.delete(name);
  if (allowOrigin !== null) {
    headers.set("Access-Control-Allow-Origin", allowOrigin);
    headers.set("Access-Control-Expose-Headers", policy.exposeHeaders);
    if (policy.config.credentials) headers.set("Access-Control-Allow-Credentials", "true");
  }
  if (addVary) headers.append("Vary", "Origin");
  return out;
}

/** `Vary` already names Origin (or `*`, which covers it). */
function variesOnOrigin(vary: string | null): boolean {
  return vary !== null && vary.split(",").some((field) => {
    const name = field.trim().toLowerCase();
    return name === "origin" || name === "*";
  });
}

/**
 * The response itself when its headers may be changed (the gateway's own answers, and proxied ones,
 * which proxy.ts and withHeaders already copied), otherwise a copy: a fetch() response's headers are
 * immutable, and a TypeError from the first change is how the runtime says so (no API asks first).
 */
function mutable(response: Response): Response {
  try {
    response.headers.delete("access-control-allow-origin"); // the first of the deletes that follow, or a no-op
    return response;
  } catch {
    return new Response(response.body, response);
  }
}
