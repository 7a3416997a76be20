import { loadConfig } from "../config";
import type { Env } from "../env";
import { remindRotations } from "./rotation_reminders";

/**
 * The daily Cron Trigger's key-hygiene work (wrangler.toml `[triggers]`): rotation reminders.
 * Other daily jobs (retention, expiry notices) belong beside this call, each idempotent, because
 * Cron Triggers may fire more than once.
 */
export async function runDailyHygiene(env: Env, now: number): Promise<void> {
  const config = loadConfig(env);
  const reminders = await remindRotations(env.DB, config.rotationReminderAfterMs, now);
  if (reminders.length > 0) console.log(`keygate: key.rotation_due for ${reminders.length} key(s)`);
}
