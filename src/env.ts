import type { ConfigVars } from "./config";
import type { RateLimiterObject } from "./ratelimit/durable_object";
import type { UsageMessage } from "./store/usage_message";
import type { WebhookEvent } from "./webhooks/events";

/**
 * Bindings and raw vars exactly as wrangler hands them over. Only config.ts reads the raw vars;
 * their names and accepted input types come from its zod schema (`ConfigVars`), never restated here.
 */
export interface Env extends ConfigVars {
  DB: D1Database;
  KEY_CACHE: KVNamespace;
  RATE_LIMITER: DurableObjectNamespace<RateLimiterObject>;
  USAGE_QUEUE: Queue<UsageMessage>;
  WEBHOOK_QUEUE: Queue<WebhookEvent>;
  /** Optional Workers Analytics Engine dataset: one data point per call (SPEC §8). */
  USAGE_EVENTS?: AnalyticsEngineDataset;
}
