import { Ratelimit } from "@upstash/ratelimit";
import { Redis } from "@upstash/redis/cloudflare";
import { DEFAULT_LIMITER_TIMEOUT_MS } from "./durable_object_limiter";
import { type RateLimitDecision, type RateLimiter, RateLimiterUnavailableError, type RateLimitRequest } from "./interface";
import { earliestAdmission, estimate, type WindowCounts } from "./sliding_window";

export interface UpstashLimiterOptions {
  url: string;
  token: string;
  /** How long a decision may take before the store counts as unavailable (the failure mode decides). */
  timeoutMs?: number;
}

const KEY_PREFIX = "keygate:rl";
/** Distinct (limit, window) pairs kept per isolate: tiers plus per-key overrides in use. */
const MAX_LIMITERS = 256;
/** Identifiers one ephemeral cache remembers as blocked (the library never evicts on its own). */
const MAX_BLOCKED = 10_000;

/** Adds ARGV[1] (may be negative) to the current window, floored at zero; answers {current, previous}. */
const RECORD_SCRIPT = `
local current = redis.call("INCRBY", KEYS[1], ARGV[1])
if current < 0 then
  redis.call("SET", KEYS[1], 0, "PX", ARGV[2])
  current = 0
else
  redis.call("PEXPIRE", KEYS[1], ARGV[2])
end
return {current, tonumber(redis.call("GET", KEYS[2]) or "0")}
`;

/**
 * `@upstash/ratelimit`'s `slidingWindow` (the same counter as `sliding_window.ts`, run as one Lua
 * script in Redis, hence atomic under concurrency) over the `@upstash/redis` REST client.
 *
 * One `Ratelimit` per (limit, window), built on first use and kept for the isolate's life, each with
 * its ephemeral cache: an identifier that was denied is denied from memory until its window ends,
 * without a round trip. Redis keys are `keygate:rl:<windowMs>:<identifier>:<window index>`.
 *
 * On timeout the library answers `success: true, reason: "timeout"`: an admission nobody decided.
 * That, and any network or Redis error, is `RateLimiterUnavailableError`, so the configured failure
 * mode decides instead of the library's default of failing open silently.
 */
export function upstashLimiter({ url, token, timeoutMs = DEFAULT_LIMITER_TIMEOUT_MS }: UpstashLimiterOptions): RateLimiter {
  const redis = new Redis({
    url,
    token,
    enableTelemetry: false,
    // One quick retry for a dropped connection; anything slower is the timeout's business.
    retry: { retries: 1, backoff: () => 25 },
    // Aborts the HTTP request shortly after the library's own timeout gave up on it.
    signal: () => AbortSignal.timeout(timeoutMs + 100),
  });
  const limiters = new Map<string, Ratelimit>();
  const recordScript = redis.createScript<[number, number]>(RECORD_SCRIPT);

  const limiterFor = (limit: number, windowMs: number): Ratelimit => {
    const id = `${limit}/${windowMs}`;
    let limiter = limiters.get(id);
    if (!limiter) {
      limiter = new Ratelimit({
        redis,
        limiter: Ratelimit.slidingWindow(limit, `${windowMs} ms`),
        prefix: `${KEY_PREFIX}:${windowMs}`,
        ephemeralCache: new BoundedMap(MAX_BLOCKED),
        timeout: timeoutMs,
        analytics: false,
      });
      if (limiters.size >= MAX_LIMITERS) limiters.delete(limiters.keys().next().value!);
      limiters.set(id, limiter);
    }
    return limiter;
  };

  return {
    async limit(request: RateLimitRequest): Promise<RateLimitDecision> {
      let response;
      try {
        response = await limiterFor(request.limit, request.windowMs).limit(request.identifier);
      } catch (err) {
        throw unavailable(err);
      }
      if (response.reason === "timeout") throw new RateLimiterUnavailableError(`upstash rate limiter did not answer within ${timeoutMs} ms`);
      return {
        allowed: response.success,
        limit: request.limit,
        remaining: response.remaining,
        resetAt: response.reset,
        // The ephemeral cache turns every retry away until the window ends, so that is the honest answer.
        retryAt: response.success ? Date.now() : response.reset,
      };
    },

    /**
     * Writes to the same keys the library's script reads (`<prefix>:<identifier>:<window index>`,
     * expiring two windows and a second after, as its script does), never below zero, and reads the
     * previous window in the same script to answer with the remaining budget.
     */
    async record(request: RateLimitRequest, count: number): Promise<RateLimitDecision> {
      const { identifier, limit, windowMs } = request;
      const now = Date.now();
      const index = Math.floor(now / windowMs);
      const base = `${KEY_PREFIX}:${windowMs}:${identifier}`;
      let current: number;
      let previous: number;
      try {
        [current, previous] = await recordScript.exec([`${base}:${index}`, `${base}:${index - 1}`], [String(count), String(windowMs * 2 + 1_000)]);
      } catch (err) {
        throw unavailable(err);
      }
      const counts: WindowCounts = { index, current, previous: Math.max(0, previous) };
      const used = estimate(counts, windowMs, now);
      return {
        allowed: used <= limit,
        limit,
        remaining: Math.max(0, limit - used),
        resetAt: (index + 1) * windowMs,
        retryAt: earliestAdmission(counts, limit, windowMs, now),
      };
    },
  };
}

function unavailable(err: unknown): RateLimiterUnavailableError {
  // The client's messages may quote the command it sent (identifiers only, never key material).
  const reason = err instanceof Error ? `${err.name}: ${err.message}`.slice(0, 200) : "error";
  return new RateLimiterUnavailableError(`upstash rate limiter failed: ${reason}`, { cause: err });
}

/** A Map that forgets its oldest entry beyond `max`, for the library's otherwise unbounded ephemeral cache. */
class BoundedMap<K, V> extends Map<K, V> {
  readonly #max: number;

  constructor(max: number) {
    super();
    this.#max = max;
  }

  override set(key: K, value: V): this {
    if (!this.has(key) && this.size >= this.#max) this.delete(this.keys().next().value as K);
    return super.set(key, value);
  }
}
