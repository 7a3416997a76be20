import { handleRequest } from "./app";
import type { Env } from "./env";
import { runDailyHygiene } from "./hygiene/scheduled";
import { consumeUsage } from "./usage/consumer";
import type { UsageMessage } from "./usage/record";

export { RateLimiterObject } from "./ratelimit/durable_object";

export default {
  fetch: handleRequest,
  queue: consumeUsage,
  scheduled(controller, env, ctx) {
    ctx.waitUntil(runDailyHygiene(env, controller.scheduledTime));
  },
} satisfies ExportedHandler<Env, UsageMessage>;
