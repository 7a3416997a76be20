import type { RateLimiterObject } from "./ratelimit/durable_object";
import type { UsageMessage } from "./usage/record";

/** Bindings and raw vars exactly as wrangler hands them over. Only config.ts reads the raw vars. */
export interface Env {
  DB: D1Database;
  KEY_CACHE: KVNamespace;
  RATE_LIMITER: DurableObjectNamespace<RateLimiterObject>;
  USAGE_QUEUE: Queue<UsageMessage>;

  ORIGIN_URL?: string;
  KEY_PREFIX?: string;
  ORIGIN_TIMEOUT_MS?: string | number;
  RATE_LIMIT_BACKEND?: string;
  RATE_LIMIT_FAILURE_MODE?: string;
  SCOPES?: unknown;
  TIERS?: unknown;
  ROUTES?: unknown;
  CORS?: unknown;
  MEMORY_CACHE_TTL_MS?: string | number;
  NEGATIVE_CACHE_TTL_MS?: string | number;
  SIGNED_BODY_MAX_BYTES?: string | number;
  REQUIRE_KEY_EXPIRY?: string | boolean;
  MAX_KEY_LIFETIME?: string;
  ROTATION_REMINDER_AFTER?: string;
  AUTH_FAILURE_LIMIT?: string | number;
  MANAGEMENT_RATE_LIMIT?: string | number;

  ADMIN_TOKEN?: string;
  UPSTASH_REDIS_REST_URL?: string;
  UPSTASH_REDIS_REST_TOKEN?: string;
  ORIGIN_SIGNING_SECRET?: string;
  CONSOLE_SESSION_SECRET?: string;
  CONSOLE_SESSION_TTL?: string | number;
}
