import { handleRequest } from "./app";
import { loadConfig } from "./config";
import type { Env } from "./env";
import { consumeUsage } from "./usage/consumer";
import { pruneUsage } from "./usage/retention";

export { RateLimiterObject } from "./ratelimit/durable_object";

export default {
  fetch: handleRequest,
  queue: consumeUsage,
  // The Cron Trigger in wrangler.toml: retention (SPEC §8). The trigger's own time is the clock.
  async scheduled(controller, env) {
    const report = await pruneUsage(env.DB, loadConfig(env), controller.scheduledTime);
    if (report.incomplete) console.log("keygate: retention run hit its statement budget; the next run continues", report.deleted);
  },
} satisfies ExportedHandler<Env, unknown>;
