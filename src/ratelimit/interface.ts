import type { ConsistencyMode } from "../config";

export interface RateLimitRequest {
  /** What is counted: `key:<id>` or `org:<id>`. */
  identifier: string;
  limit: number;
  windowMs: number;
  mode: ConsistencyMode;
}

export interface RateLimitDecision {
  allowed: boolean;
  limit: number;
  remaining: number;
  /** Epoch ms at which the current window ends. */
  resetAt: number;
}

/** One interface, two backends (`upstash.ts`, `durable_object.ts`). Throws `RateLimiterUnavailableError` when its store cannot answer. */
export interface RateLimiter {
  limit(request: RateLimitRequest): Promise<RateLimitDecision>;
}

export class RateLimiterUnavailableError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "RateLimiterUnavailableError";
  }
}
