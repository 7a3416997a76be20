import type { KeyRecord } from "../cache/interface";
import type { Config } from "../config";
import type { Env } from "../env";
import { KeygateError } from "../errors";
import { consistentLimiter, type ConsistentLimiter } from "./consistency";
import { durableObjectLimiter } from "./durable_object_limiter";
import { type PolicyOutcome, rateLimitHeaders, secondsUntil } from "./headers";
import { type RateLimitDecision, RateLimiterUnavailableError, type RateLimitRequest } from "./interface";
import { upstashLimiter } from "./upstash";

export interface EnforceRateLimitInput {
  config: Config;
  env: Env;
  ctx: ExecutionContext;
  record: KeyRecord;
}

/**
 * SPEC §3 step 6, called after route policy. Counts the request against the key's limit (its own
 * `rate_limit` override, else its tier's) and, when the tier has `org_limit`, against the org's
 * aggregate `org:<id>` over the tier's window; both must admit. Returns the headers for the proxied
 * response; throws `rate_limited` (429, `Retry-After`) over a limit, and `rate_limiter_unavailable`
 * (503) when the store cannot answer and `RATE_LIMIT_FAILURE_MODE` is `closed` (`open` admits and logs).
 */
export async function enforceRateLimit({ config, env, ctx, record }: EnforceRateLimitInput): Promise<Record<string, string>> {
  const limiter = limiterFor(config, env);
  const { key, org } = planFor(config, record);

  let keyDecision: RateLimitDecision;
  let orgDecision: RateLimitDecision | undefined;
  try {
    if (org) [keyDecision, orgDecision] = await Promise.all([limiter.limit(key, ctx), limiter.limit(org, ctx)]);
    else keyDecision = await limiter.limit(key, ctx);
  } catch (err) {
    if (!(err instanceof RateLimiterUnavailableError)) throw err;
    if (config.rateLimitFailureMode === "closed") {
      throw new KeygateError("rate_limiter_unavailable", "the rate limiter is unavailable; try again shortly", { headers: { "Retry-After": "1" } });
    }
    warnAdmittedUnchecked(config, key, err);
    return rateLimitHeaders(outcomes(key, undefined, org, undefined), Date.now());
  }

  const now = Date.now();
  const headers = rateLimitHeaders(outcomes(key, keyDecision, org, orgDecision), now);
  if (keyDecision.allowed && (!orgDecision || orgDecision.allowed)) return headers;

  // One side admitted and counted a request the other refused: give it back while it is still in the same window.
  if (keyDecision.allowed) refundIfSameWindow(limiter, key, keyDecision, ctx, now);
  if (org && orgDecision?.allowed) refundIfSameWindow(limiter, org, orgDecision, ctx, now);
  const retryAt = Math.max(keyDecision.allowed ? 0 : keyDecision.retryAt, orgDecision && !orgDecision.allowed ? orgDecision.retryAt : 0);
  const which = keyDecision.allowed ? "the org's aggregate rate limit" : "this key's rate limit";
  throw new KeygateError("rate_limited", `${which} is exhausted; retry later`, {
    headers: { "Retry-After": String(Math.max(1, secondsUntil(retryAt, now))), ...headers },
  });
}

interface Plan {
  config: Config;
  key: RateLimitRequest;
  org?: RateLimitRequest;
}

// The requests a key makes of the limiter depend only on its cached record and the config, so they
// are built once per record the key cache hands out, not once per request.
const plans = new WeakMap<KeyRecord, Plan>();

function planFor(config: Config, record: KeyRecord): Plan {
  const cached = plans.get(record);
  if (cached?.config === config) return cached;
  const tier = config.tiers[record.tier];
  const own = record.rateLimit ?? tier;
  if (!own) throw new KeygateError("gateway_misconfigured", `tier "${record.tier}" is not in TIERS`);
  const plan: Plan = {
    config,
    key: { identifier: `key:${record.id}`, limit: own.limit, windowMs: own.window, mode: record.rateLimit?.mode ?? tier?.mode ?? "strict" },
    org: tier?.org_limit ? { identifier: `org:${record.orgId}`, limit: tier.org_limit, windowMs: tier.window, mode: tier.mode } : undefined,
  };
  plans.set(record, plan);
  return plan;
}

// During an outage every request would log: one line per isolate and config every 10 s is enough.
const WARNING_INTERVAL_MS = 10_000;
const lastWarningAt = new WeakMap<Config, number>();

function warnAdmittedUnchecked(config: Config, key: RateLimitRequest, err: RateLimiterUnavailableError): void {
  const now = Date.now();
  if (now - (lastWarningAt.get(config) ?? -Infinity) < WARNING_INTERVAL_MS) return;
  lastWarningAt.set(config, now);
  // Identifiers are ids, never key material.
  console.warn(
    `keygate: rate limiter unavailable, admitting ${key.identifier} unchecked (RATE_LIMIT_FAILURE_MODE=open; the next ${WARNING_INTERVAL_MS / 1000} s of such admissions are not logged): ${err.message}`,
  );
}

function outcomes(key: RateLimitRequest, keyDecision: RateLimitDecision | undefined, org: RateLimitRequest | undefined, orgDecision: RateLimitDecision | undefined): PolicyOutcome[] {
  const list: PolicyOutcome[] = [{ name: "default", limit: key.limit, windowMs: key.windowMs, decision: keyDecision }];
  if (org) list.push({ name: "org", limit: org.limit, windowMs: org.windowMs, decision: orgDecision });
  return list;
}

function refundIfSameWindow(limiter: ConsistentLimiter, request: RateLimitRequest, decision: RateLimitDecision, ctx: ExecutionContext, now: number): void {
  if (decision.resetAt - request.windowMs <= now && now < decision.resetAt) limiter.refund(request, ctx);
}

// One limiter per parsed config, i.e. per isolate in production (`loadConfig` caches the config per
// env): the Upstash client and its per-limit instances, and fast mode's local budgets, live as long
// as the isolate.
const limiters = new WeakMap<Config, ConsistentLimiter>();

function limiterFor(config: Config, env: Env): ConsistentLimiter {
  let limiter = limiters.get(config);
  if (!limiter) {
    if (config.rateLimitBackend === "upstash" && !config.upstash) {
      throw new KeygateError("gateway_misconfigured", "RATE_LIMIT_BACKEND is upstash but UPSTASH_REDIS_REST_URL/TOKEN are not set");
    }
    limiter = consistentLimiter(config.rateLimitBackend === "upstash" ? upstashLimiter(config.upstash!) : durableObjectLimiter({ namespace: env.RATE_LIMITER }));
    limiters.set(config, limiter);
  }
  return limiter;
}
