import type { Config } from "../config";
import type { Env } from "../env";
import { durableObjectLimiter } from "../ratelimit/durable_object_limiter";
import type { RateLimiter } from "../ratelimit/interface";
import { upstashLimiter } from "../ratelimit/upstash";

// The abuse limits (failed authentications per source, management calls per credential) count in the
// same store as the hot path's rate limits (RATE_LIMIT_BACKEND), so they hold across isolates and
// locations. One client per parsed config, i.e. per isolate.
const backends = new WeakMap<Config, RateLimiter>();

export function limiterStore(config: Config, env: Env): RateLimiter {
  let backend = backends.get(config);
  if (!backend) {
    backend = config.rateLimitBackend === "upstash" && config.upstash ? upstashLimiter(config.upstash) : durableObjectLimiter({ namespace: env.RATE_LIMITER });
    backends.set(config, backend);
  }
  return backend;
}

// A store outage must not flood the log: one line per isolate and purpose every 10 s.
const WARNING_INTERVAL_MS = 10_000;
const lastWarningAt = new Map<string, number>();

export function warnStoreUnavailable(purpose: string, err: unknown): void {
  const now = Date.now();
  if (now - (lastWarningAt.get(purpose) ?? -Infinity) < WARNING_INTERVAL_MS) return;
  lastWarningAt.set(purpose, now);
  console.warn(`keygate: rate-limit store unavailable for ${purpose}; not enforced meanwhile (further warnings suppressed for ${WARNING_INTERVAL_MS / 1000} s): ${err instanceof Error ? err.message : "unknown error"}`);
}
