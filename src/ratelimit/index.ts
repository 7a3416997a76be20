import type { KeyRecord } from "../store/key_records";
import type { Config } from "../config";
import type { Env } from "../env";
import { KeygateError } from "../errors";
import { AuthFailure } from "../auth/verify";
import { consistentLimiter, type ConsistentLimiter } from "./consistency";
import { durableObjectLimiter, type LimiterProbe } from "./durable_object_limiter";
import { rateLimitHeaders, rateLimitPolicy } from "./headers";
import type { Policy } from "./counters";
import { type LimitAnswer, RateLimiterUnavailableError, StaleKeyRecord } from "./interface";
import { type LimitPlan, limitPlan } from "./policy";
import { upstashLimiter } from "./upstash";

export interface EnforceRateLimitInput {
  /** The isolate's rate-limit state for this config (src/isolate.ts). */
  limits: RateLimits;
  ctx: ExecutionContext;
  record: KeyRecord;
  /** The route rule's `cost` (SPEC §7), counted against every window and the quota. */
  cost?: number;
  /** The record was just read from D1: a `changedAt` answer (D1 replica lag) is not sent back to reread it again. */
  acceptStale?: boolean;
}

/**
 * SPEC §3 step 6 and §7, called after route policy: counts the request's cost against every policy
 * of the key (its windows, its quota, the org aggregate) in ONE call to the limiter store (strict)
 * or none (fast, on the local budget). Throws `StaleKeyRecord` when the limiter knows the key changed
 * after `record` was cached (the caller rereads it from D1 and calls again). Returns the headers for the proxied response; throws
 * `rate_limited` / `quota_exceeded` (429, `details` naming the violated policies), `key_revoked` /
 * `key_expired` when the limiter knows the key ended though a cache did not, `tier_unavailable`
 * for a key whose tier left TIERS, and `rate_limiter_unavailable` (503) when the store cannot
 * answer and `RATE_LIMIT_FAILURE_MODE` is `closed` (`open` admits and logs).
 */
export async function enforceRateLimit({ limits, ctx, record, cost = 1, acceptStale = false }: EnforceRateLimitInput): Promise<Record<string, string>> {
  const config = limits.config;
  const { plan: cached, policies, policyHeader } = limits.planFor(record);
  // Just read from D1: decided as is, even if a replica lagged behind the change the limiter knows of.
  const plan = acceptStale ? { ...cached, version: Number.MAX_SAFE_INTEGER } : cached;
  let answer: LimitAnswer;
  try {
    answer = await limits.limiter.limit(plan, cost, ctx);
  } catch (err) {
    if (!(err instanceof RateLimiterUnavailableError)) throw err;
    if (config.rateLimitFailureMode === "closed") {
      throw new KeygateError("rate_limiter_unavailable", "the rate limiter is unavailable; try again shortly", { headers: { "Retry-After": "1" } });
    }
    limits.warnAdmittedUnchecked(plan, err);
    return rateLimitHeaders(policies, undefined, Date.now(), policyHeader);
  }
  if (answer.ended) throw new AuthFailure(answer.ended.reason === "revoked" ? "key_revoked" : "key_expired", record);
  if (answer.changedAt !== undefined) throw new StaleKeyRecord();

  const headers = rateLimitHeaders(policies, answer.policies, Date.now(), policyHeader);
  if (answer.allowed) return headers;
  const violated = answer.policies.filter((p) => !p.allowed);
  const quota = violated.some((p) => p.kind === "quota");
  throw new KeygateError(
    quota ? "quota_exceeded" : "rate_limited",
    quota ? "this key's quota for the period is used up; retry after it resets" : `${violated.map((p) => `"${p.name}"`).join(", ")} rate limit exhausted; retry later`,
    { headers, details: violated.map((p) => ({ field: "policies", message: p.name })) },
  );
}

interface PlannedKey {
  plan: LimitPlan;
  policies: Policy[];
  policyHeader: string;
}

// During an outage every request would log: one line per isolate and config every 10 s is enough.
const WARNING_INTERVAL_MS = 10_000;

/**
 * One config's rate-limit state in this isolate, owned by its Runtime (src/isolate.ts): the limiter
 * (the Upstash client and fast mode's local budgets live as long as it), each cached record's plan,
 * and when an open-mode admission was last logged.
 */
export class RateLimits {
  readonly config: Config;
  readonly #env: Env;
  #limiter: ConsistentLimiter | undefined;
  // A key's plan, its policies and their RateLimit-Policy header depend only on its cached record and
  // the config, so they are built once per record the key cache hands out, not once per request.
  readonly #plans = new WeakMap<KeyRecord, PlannedKey>();
  #warnedAt = -Infinity;

  readonly #probe: LimiterProbe | null;

  constructor(config: Config, env: Env, probe: LimiterProbe | null = null) {
    this.config = config;
    this.#env = env;
    this.#probe = probe;
  }

  /** Built on first use: a misconfigured backend (upstash without credentials) fails the request that needs it. */
  get limiter(): ConsistentLimiter {
    if (this.#limiter) return this.#limiter;
    const config = this.config;
    if (config.rateLimitBackend === "upstash" && !config.upstash) {
      throw new KeygateError("gateway_misconfigured", "RATE_LIMIT_BACKEND is upstash but UPSTASH_REDIS_REST_URL/TOKEN are not set");
    }
    this.#limiter = consistentLimiter(config.rateLimitBackend === "upstash" ? upstashLimiter(config.upstash!) : durableObjectLimiter({ namespace: this.#env.RATE_LIMITER, probe: this.#probe }));
    return this.#limiter;
  }

  planFor(record: KeyRecord): PlannedKey {
    let planned = this.#plans.get(record);
    if (!planned) {
      const plan = limitPlan(this.config, record);
      const policies = plan.counters.map((c) => c.policy);
      planned = { plan, policies, policyHeader: rateLimitPolicy(policies) };
      this.#plans.set(record, planned);
    }
    return planned;
  }

  warnAdmittedUnchecked(plan: LimitPlan, err: RateLimiterUnavailableError): void {
    const now = Date.now();
    if (now - this.#warnedAt < WARNING_INTERVAL_MS) return;
    this.#warnedAt = now;
    // Identifiers are ids, never key material.
    console.warn(
      `keygate: rate limiter unavailable, admitting key:${plan.keyId} unchecked (RATE_LIMIT_FAILURE_MODE=open; the next ${WARNING_INTERVAL_MS / 1000} s of such admissions are not logged): ${err.message}`,
    );
  }
}
