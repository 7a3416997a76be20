import { loadConfig } from "../config";
import type { Env } from "../env";
import { eventPublisher } from "../webhooks/publish";
import { remindRotations } from "./rotation_reminders";

/**
 * The daily Cron Trigger's key-hygiene work (wrangler.toml `[triggers]`): rotation reminders.
 * Other daily jobs (retention, expiry notices) belong beside this call, each idempotent, because
 * Cron Triggers may fire more than once.
 */
export async function runDailyHygiene(env: Env, now: number): Promise<void> {
  const config = loadConfig(env);
  const reminders = await remindRotations(env.DB, config.rotationReminderAfterMs, now);
  if (reminders.length === 0) return;
  console.log(`keygate: key.rotation_due for ${reminders.length} key(s)`);
  // Audit and webhook (issue 16.2): the event id is the audit row's, so a retried delivery keeps it.
  const timestamp = new Date(now).toISOString();
  await eventPublisher(env, config)(
    // data repeats the audit row's details (as every event's does), plus who and what.
    reminders.map((r) => ({ id: r.id, type: "key.rotation_due" as const, timestamp, data: { ...r.details, org_id: r.orgId, key_id: r.keyId, actor: "keygate" } })),
  );
}
