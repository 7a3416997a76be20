import type { RateLimiterObject } from "./ratelimit/durable_object";
import type { UsageMessage } from "./store/usage_message";
import type { WebhookEvent } from "./webhooks/events";

/** Bindings and raw vars exactly as wrangler hands them over. Only config.ts reads the raw vars. */
export interface Env {
  DB: D1Database;
  KEY_CACHE: KVNamespace;
  RATE_LIMITER: DurableObjectNamespace<RateLimiterObject>;
  USAGE_QUEUE: Queue<UsageMessage>;
  WEBHOOK_QUEUE: Queue<WebhookEvent>;
  /** Optional Workers Analytics Engine dataset: one data point per call (SPEC §8). */
  USAGE_EVENTS?: AnalyticsEngineDataset;

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
  GITHUB_SECRET_SCANNING_KEYS_URL?: string;
  LEAKED_KEY_ACTION?: string;
  WEBHOOK_URL?: string;
  USAGE_FLUSH_INTERVAL_MS?: string | number;
  USAGE_MINUTE_RETENTION?: string | number;
  USAGE_HOUR_RETENTION?: string | number;
  AUTH_FAILURE_RETENTION?: string | number;
  AUTH_FAILURE_LIMIT?: string | number;
  MANAGEMENT_RATE_LIMIT?: string | number;

  ADMIN_TOKEN?: string;
  UPSTASH_REDIS_REST_URL?: string;
  UPSTASH_REDIS_REST_TOKEN?: string;
  ORIGIN_SIGNING_SECRET?: string;
  WEBHOOK_SECRET?: string;
  CONSOLE_SESSION_SECRET?: string;
  CONSOLE_SESSION_TTL?: string | number;
}
