import { drizzle } from "drizzle-orm/d1";
import type { Config } from "../config";
import type { Env } from "../env";
import { newId } from "../keys/ids";
import { recordAuditIf } from "../store/audit";
import { changedRows } from "../store/conditional";
import { expiryNotYetAnnounced, keysToAnnounceExpiring } from "../store/key_events";
import { eventOf } from "./events";
import { eventPublisher } from "./publish";

/** wrangler.toml [triggers]: the daily run that announces keys expiring within 7 days. */
export const EXPIRING_KEYS_CRON = "17 3 * * *";

/** SPEC §10: keys expiring within 7 days are announced, each once. */
export const EXPIRING_WITHIN_MS = 7 * 86_400_000;
/** Keys announced per statement batch, and per run at most (the next day's run takes the rest). */
const BATCH = 50;
const PER_RUN = 5_000;

/**
 * The daily cron: a key.expiring event (and audit row, which is what makes it once per key) for every
 * active key that expires within 7 days. The audit insert is conditional, so two overlapping runs
 * cannot announce a key twice. Without WEBHOOK_URL there is nobody to tell and nothing is written.
 * Returns how many keys were announced.
 */
export async function announceExpiringKeys(env: Env, config: Config, now: number): Promise<number> {
  if (!config.webhook) return 0;
  const db = drizzle(env.DB);
  const publish = eventPublisher(env, config);
  const due = await keysToAnnounceExpiring(db, now, now + EXPIRING_WITHIN_MS, PER_RUN);
  let announced = 0;
  for (let i = 0; i < due.length; i += BATCH) {
    const entries = due.slice(i, i + BATCH).map((key) => ({
      id: newId("evt"),
      orgId: key.orgId,
      action: "key.expiring" as const,
      actor: "keygate",
      keyId: key.id,
      details: { name: key.name, expires_at: new Date(key.expiresAt!).toISOString() },
    }));
    const [first, ...rest] = entries.map((entry) => recordAuditIf(db, entry, now, expiryNotYetAnnounced(db, entry.keyId)));
    const results = await db.batch([first!, ...rest]);
    const written = entries.filter((_, j) => changedRows(results[j]) > 0);
    await publish(written.map((entry) => eventOf(entry, now)));
    announced += written.length;
  }
  return announced;
}
