import type { MiddlewareHandler } from "hono";
import { limiterStore, warnStoreUnavailable } from "../auth/limiter_store";
import { KeygateError } from "../errors";
import { rateLimitHeaders } from "../ratelimit/headers";
import { singleWindowPlan } from "../ratelimit/policy";
import type { ManagementEnv } from "./context";

/**
 * SPEC §9: every management credential (the operator token, each org key) gets
 * `MANAGEMENT_RATE_LIMIT` calls per window (default 600 per 60 s), counted in the shared limiter
 * store. Every answer carries the usual `RateLimit-Policy`/`RateLimit`/`X-RateLimit-*` headers; over
 * the limit it is 429 `rate_limited` with `Retry-After`.
 *
 * If the store cannot answer, the call is admitted (and logged) whatever RATE_LIMIT_FAILURE_MODE
 * says: an operator must be able to revoke a leaked key while the limiter is down.
 */
export function managementRateLimit(): MiddlewareHandler<ManagementEnv> {
  return async (c, next) => {
    const { config } = c.get("services");
    const caller = c.get("caller");
    const { limit, windowMs } = config.managementRateLimit;
    const plan = singleWindowPlan(caller.kind === "operator" ? "mgmt:operator" : `mgmt:${caller.key.id}`, limit, windowMs);
    const policies = plan.counters.map((counter) => counter.policy);
    let headers: Record<string, string>;
    try {
      const answer = await limiterStore(config, c.env).limit(plan, 1);
      headers = rateLimitHeaders(policies, answer.policies, Date.now());
      // On a refusal the headers carry Retry-After, equal to X-RateLimit-Reset.
      if (!answer.allowed) throw new KeygateError("rate_limited", "this credential's management rate limit is exhausted; retry later", { headers });
    } catch (err) {
      if (err instanceof KeygateError) throw err;
      warnStoreUnavailable("MANAGEMENT_RATE_LIMIT", err);
      headers = rateLimitHeaders(policies, undefined, Date.now());
    }
    await next();
    // Success and error answers alike (Hono has rendered a thrown error into c.res by now).
    for (const [name, value] of Object.entries(headers)) c.res.headers.set(name, value);
  };
}
