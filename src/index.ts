import { handleRequest } from "./app";
import { loadConfig } from "./config";
import type { Env } from "./env";
import { runDailyHygiene } from "./hygiene/scheduled";
import { consumeUsage } from "./usage/consumer";
import type { UsageMessage } from "./store/usage_message";
import { pruneUsage } from "./usage/retention";
import { deliverWebhooks, WEBHOOK_QUEUE_NAME } from "./webhooks/deliver";
import type { WebhookEvent } from "./webhooks/events";
import { announceExpiringKeys, EXPIRING_KEYS_CRON } from "./webhooks/expiring";

export { RateLimiterObject } from "./ratelimit/durable_object";

export default {
  fetch: handleRequest,
  queue(batch: MessageBatch<UsageMessage | WebhookEvent>, env: Env): Promise<void> {
    // By name prefix, so an [env.staging] queue named "keygate-webhooks-staging" is routed here too.
    if (batch.queue.startsWith(WEBHOOK_QUEUE_NAME)) return deliverWebhooks(batch as MessageBatch<WebhookEvent>, env);
    return consumeUsage(batch as MessageBatch<UsageMessage>, env);
  },
  // The Cron Triggers in wrangler.toml, dispatched by their cron string; each trigger's own time is the clock.
  async scheduled(controller: ScheduledController, env: Env): Promise<void> {
    if (controller.cron === EXPIRING_KEYS_CRON) {
      // The daily jobs: key.expiring webhooks and key.rotation_due reminders, each idempotent. One failing
      // must not skip the other (a Cron Trigger is not retried); the run still fails, so its log shows it.
      const results = await Promise.allSettled([
        announceExpiringKeys(env, loadConfig(env), controller.scheduledTime),
        runDailyHygiene(env, controller.scheduledTime),
      ]);
      const failed = results.find((r): r is PromiseRejectedResult => r.status === "rejected");
      if (failed) throw failed.reason;
      return;
    }
    // Retention (SPEC §8), every 5 minutes in bounded batches.
    const report = await pruneUsage(env.DB, loadConfig(env), controller.scheduledTime);
    if (report.incomplete) console.log("keygate: retention run hit its statement budget; the next run continues", report.deleted);
  },
} satisfies ExportedHandler<Env, UsageMessage | WebhookEvent>;
