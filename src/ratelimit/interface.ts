import type { ConsistencyMode } from "../config";

export interface RateLimitRequest {
  /** What is counted: `key:<id>` or `org:<id>`. */
  identifier: string;
  limit: number;
  windowMs: number;
  /** Read by the consistency layer (`consistency.ts`); a backend always answers from its store. */
  mode: ConsistencyMode;
}

export interface RateLimitDecision {
  allowed: boolean;
  limit: number;
  remaining: number;
  /** Epoch ms at which the current window ends. */
  resetAt: number;
  /** Epoch ms from which a denied caller may be admitted again (the backend's best knowledge); `<= now` when allowed. */
  retryAt: number;
}

/** One interface, two backends (`upstash.ts`, `durable_object_limiter.ts`). Throws `RateLimiterUnavailableError` when its store cannot answer. */
export interface RateLimiter {
  /** Counts one request if the sliding window has room for it; a denied request counts nothing. */
  limit(request: RateLimitRequest): Promise<RateLimitDecision>;
  /**
   * Adds `count` requests that were already admitted elsewhere (fast mode reports its local
   * admissions), whatever the window holds; a negative count gives requests back (never below zero
   * where the store can tell). `allowed` says whether the window is still within the limit.
   */
  record(request: RateLimitRequest, count: number): Promise<RateLimitDecision>;
}

export class RateLimiterUnavailableError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "RateLimiterUnavailableError";
  }
}
