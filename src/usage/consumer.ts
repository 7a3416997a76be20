import { z } from "zod";
import type { Env } from "../env";
import { writeUsageBatch } from "../store/usage";
import { HISTOGRAM_BUCKETS } from "../store/histogram";
import { AUTH_FAILURE_REASONS } from "../store/auth_failures";
import { USAGE_MESSAGE_VERSION, type UsageMessage } from "../store/usage_message";

const count = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);
const epoch = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);
const id = z.string().min(1).max(64);
const reason = z.enum(AUTH_FAILURE_REASONS);

/** What this consumer accepts: exactly the current producer's message (record.ts). */
const MessageSchema = z.object({
  v: z.literal(USAGE_MESSAGE_VERSION),
  id: z.string().min(1).max(64),
  aggregates: z.array(
    z.object({ keyId: id, orgId: id, minute: epoch, statusClass: z.number().int().min(1).max(5), count, maxMs: count, histogram: z.array(count).length(HISTOGRAM_BUCKETS) }),
  ),
  recent: z.array(z.object({ keyId: id, orgId: id, method: z.string().min(1).max(16), path: z.string().max(256), status: z.number().int().min(100).max(599), latencyMs: count, at: epoch })),
  failures: z.array(
    z.object({ source: z.string().min(1).max(64), reason, keyId: id.nullable(), orgId: id.nullable(), hour: epoch, count, firstAt: epoch, lastAt: epoch }),
  ),
});

/**
 * USAGE_QUEUE consumer: the only place usage reaches D1. A whole batch is written in one D1
 * transaction and acknowledged only after it committed; if D1 fails, the batch is retried
 * (Queues' own retry limit then applies), so nothing is acknowledged that was not stored.
 * Delivery is at-least-once; `usage_applied` makes a redelivered message count once.
 */
export async function consumeUsage(batch: MessageBatch<unknown>, env: Env): Promise<void> {
  const messages = new Map<string, UsageMessage>();
  let dropped = 0;
  let firstDropped: string | undefined;
  for (const message of batch.messages) {
    const parsed = MessageSchema.safeParse(message.body);
    // A message from another producer version, or garbage, cannot get better by retrying: drop it.
    if (!parsed.success) {
      dropped++;
      firstDropped ??= message.id;
      continue;
    }
    // The same message twice in one batch (a send retried after it had landed) counts once too.
    messages.set(parsed.data.id, parsed.data as UsageMessage);
  }
  if (dropped > 0) console.error(`keygate: dropping ${dropped} usage message(s) of an unknown version or shape (first: ${firstDropped})`);

  try {
    if (messages.size > 0) await writeUsageBatch(env.DB, [...messages.values()]);
  } catch (err) {
    console.error("keygate: writing usage failed; the batch will be retried", err instanceof Error ? err.message : String(err));
    batch.retryAll({ delaySeconds: 5 });
    return;
  }
  batch.ackAll();
}
