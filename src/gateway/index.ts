import type { KeyRecord } from "../store/key_records";
import type { Runtime } from "../isolate";
import { extractCredential } from "../auth/credentials";
import { authFailureRefusal, clientSource, countAuthFailure, withAuthFailureBudget } from "../auth/failure_limit";
import { AuthFailure, isAuthFailureCode, verifyKey } from "../auth/verify";
import { KeygateError, renderError } from "../errors";
import { enforceRateLimit } from "../ratelimit";
import { StaleKeyRecord } from "../ratelimit/interface";
import { tierOf } from "../ratelimit/policy";
import { assertIpAllowed } from "../restrictions";
import { containsKey } from "../keys/format";
import { recordedPath } from "../usage/record";
import { isBrowserNoise } from "./browser_noise";
import { canonicalPath } from "./path";
import { proxyToOrigin } from "./proxy";
import { assertUnambiguousRoute, authorizeRule, type MatchedRule } from "./route_policy";

/**
 * The hot path, SPEC §3 top to bottom: credentials, key verification (format, tiered lookup,
 * status), route policy, rate limit, proxy. Every refusal is the one error envelope; every
 * outcome leaves a usage or auth-failure record, sent from waitUntil after the response.
 */
export async function handleGatewayRequest(request: Request, runtime: Runtime, ctx: ExecutionContext, url: URL): Promise<Response> {
  const startedAt = Date.now();
  const { config, env, usage } = runtime;
  // Read once: each read of a Request property is a call into the runtime that builds a new value.
  const method = request.method;
  const headers = request.headers;
  // SPEC §9: a source over AUTH_FAILURE_LIMIT is refused before any credential check or lookup.
  const source = clientSource(headers);
  const refusal = authFailureRefusal(source, startedAt);
  if (refusal) return renderError(withAuthFailureBudget(refusal, config, source, startedAt));

  // Step 0: a request no origin may see is refused before any lookup. The path is normalised here,
  // once: the route policy matches it (here, once), the origin receives it, usage records it (SPEC §9).
  let path: string;
  let rule: MatchedRule | null;
  try {
    ({ path, rule } = forwardablePath(request, method, headers, url, runtime));
  } catch (err) {
    return renderError(err);
  }

  // Steps 1-4: who is calling. Nothing before a well-formed key touches storage.
  let record: KeyRecord;
  try {
    record = await verifyKey(extractCredential(headers), config, runtime.keyCache(ctx), startedAt);
  } catch (err) {
    if (err instanceof KeygateError && isAuthFailureCode(err.code) && !(err.code === "missing_credentials" && isBrowserNoise(url.pathname))) {
      // Revoked and expired keys exist: their failures belong to the key's org.
      const known = err instanceof AuthFailure ? err.record : null;
      usage.authFailure(ctx, {
        source,
        reason: err.code,
        keyId: known?.id ?? null,
        orgId: known?.orgId ?? null,
        at: startedAt,
      });
      if (err.code !== "missing_credentials") await countAuthFailure(config, env, source, { shared: known !== null || err.code === "invalid_key" }, startedAt);
      // As on the management API: before a key is known, the answer carries the source's failure budget.
      return renderError(withAuthFailureBudget(err, config, source, Date.now()));
    }
    return renderError(err);
  }

  // Steps 5-7: may this key call from here, this route, now; then forward.
  let response: Response;
  let rateLimitHeaders: Record<string, string> | undefined;
  const matched = { route: "" };
  try {
    assertIpAllowed(record, headers, runtime.allowlists);
    ({ record, rateLimitHeaders } = await admit(headers, rule, runtime, ctx, record, matched));
    const origin = await proxyToOrigin(request, url, {
      path,
      origin: runtime.origin,
      timeoutMs: config.originTimeoutMs,
      identity: runtime.identityOf(record),
      signedBodyMaxBytes: config.signedBodyMaxBytes,
    });
    response = withHeaders(origin, rateLimitHeaders);
  } catch (err) {
    // A counted request that then failed at the origin still tells the client where its budget stands.
    response = rateLimitHeaders ? withHeaders(renderError(err), rateLimitHeaders) : renderError(err);
  }

  // Step 8: recorded, never written inline.
  usage.call(ctx, {
    keyId: record.id,
    orgId: record.orgId,
    method,
    path: recordedPath(path),
    route: matched.route,
    status: response.status,
    latencyMs: Date.now() - startedAt,
    at: startedAt,
  });
  return response;
}

/**
 * Steps 5-6: the key's tier must exist, the route must admit it, and its limits must have room. When
 * the limiter knows the key changed after this record was cached (a PATCH elsewhere), the record is
 * read again from D1 and the request decided on it: one extra lookup, only after a change.
 */
async function admit(headers: Headers, rule: MatchedRule | null, runtime: Runtime, ctx: ExecutionContext, cached: KeyRecord, matched: { route: string }) {
  try {
    return { record: cached, rateLimitHeaders: await decide(rule, runtime, ctx, cached, false, matched) };
  } catch (err) {
    if (!(err instanceof StaleKeyRecord)) throw err;
    const record = await verifyKey(extractCredential(headers), runtime.config, runtime.freshKeyCache(ctx), Date.now());
    return { record, rateLimitHeaders: await decide(rule, runtime, ctx, record, true, matched) };
  }
}

/** A module-level function, not a closure in admit: the bundle's keep-names would rename a closure on every request. */
function decide(rule: MatchedRule | null, runtime: Runtime, ctx: ExecutionContext, record: KeyRecord, fresh: boolean, matched: { route: string }): Promise<Record<string, string>> {
  tierOf(runtime.config, record);
  const { path, cost } = authorizeRule(rule, record);
  matched.route = path;
  return enforceRateLimit({ limits: runtime.rateLimits, ctx, record, cost, acceptStale: fresh });
}

/**
 * Step 0: the normalised path and the rule it matches (null: none, the 404 once a key is known), or
 * the 400 for a request no origin may see (SPEC §9): a path that
 * cannot be normalised or whose route another reading would change (path.ts, route_policy.ts), a
 * method override in the query, an API key in the URL, a GET or HEAD with a body.
 */
function forwardablePath(request: Request, method: string, headers: Headers, url: URL, runtime: Runtime): { path: string; rule: MatchedRule | null } {
  const path = canonicalPath(url.pathname);
  const rule = assertUnambiguousRoute(runtime.routes, method, path);
  const search = url.search;
  // Symfony/Laravel (and Express's method-override, configured so) run `POST ?_method=DELETE` as a DELETE: the
  // policy judged a POST. The header spellings are dropped by proxy.ts; a query is the client's URL, so refused.
  if (search.includes("method") && METHOD_OVERRIDE_PARAMETER.test(search)) {
    throw new KeygateError("invalid_request", "a _method query parameter is not allowed: send the request with the method itself");
  }
  // A key in the URL would reach the origin (and every log on the way) in full: refused, never forwarded.
  const prefix = runtime.config.keyPrefix;
  if (containsKey(path, prefix) || containsKey(search, prefix)) {
    throw new KeygateError("invalid_request", "an API key must not be sent in the URL, where logs keep it; send it in the Authorization or X-API-Key header");
  }
  // fetch() refuses to send such a request, which used to surface as a 502 blamed on the origin.
  // `Content-Length: 0` is no body (RFC 9110 §8.6): clients that always send the field (Python's
  // `requests.get(url, data="")`, some HTTP stacks) get through, forwarded without it (proxy.ts).
  if (request.body !== null && (method === "GET" || method === "HEAD") && !declaresNoContent(headers)) {
    throw new KeygateError("invalid_request", `a ${method} request must not have a body`);
  }
  return { path, rule };
}

/** `_method`, also as PHP reads it: `%5F` decoded, and `.`, space (`+`, `%20`) and `[` in a name turned into `_`. */
const METHOD_OVERRIDE_PARAMETER = /[?&](?:_|%5[Ff]|\.|%2[Ee]|\+|%20|\[|%5[Bb])method(?:=|&|$)/;

/** `Content-Length: 0` and no chunked body: a stream that the runtime knows to be empty. */
function declaresNoContent(headers: Headers): boolean {
  return headers.get("content-length") === "0" && !headers.has("transfer-encoding");
}

/** The origin's response with gateway headers added; a fetch() response's headers are immutable, so this copies them once. */
export function withHeaders(origin: Response, extra: Record<string, string>): Response {
  const names = Object.keys(extra);
  if (names.length === 0) return origin;
  const response = new Response(origin.body, origin);
  const headers = response.headers;
  for (const name of names) headers.set(name, extra[name]!);
  return response;
}
