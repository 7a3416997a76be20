import { handleRequest } from "./app";
import type { Env } from "./env";
import { consumeUsage } from "./usage/consumer";
import type { UsageMessage } from "./usage/record";

export { RateLimiterObject } from "./ratelimit/durable_object";

export default {
  fetch: handleRequest,
  queue: consumeUsage,
} satisfies ExportedHandler<Env, UsageMessage>;
