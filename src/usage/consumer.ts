import type { Env } from "../env";
import { writeUsageBatch } from "../store/usage";
import type { AuthFailureRecord, CallRecord, UsageMessage } from "./record";

/**
 * USAGE_QUEUE consumer: the only place usage reaches D1. A whole batch is written in one D1
 * transaction and acknowledged only after it committed; if D1 fails, the batch is retried
 * (Queues' own retry limit then applies), so nothing is acknowledged that was not stored.
 * Delivery is at-least-once: a batch whose ack is lost can be written twice.
 */
export async function consumeUsage(batch: MessageBatch<UsageMessage>, env: Env): Promise<void> {
  const calls: CallRecord[] = [];
  const failures: AuthFailureRecord[] = [];
  for (const message of batch.messages) {
    const body = message.body as Partial<UsageMessage> | null;
    // A message no version of the producer could have sent is dropped: retrying it cannot help.
    if (!body || !Array.isArray(body.calls) || !Array.isArray(body.failures)) {
      console.error("keygate: dropping malformed usage message", message.id);
      continue;
    }
    calls.push(...body.calls);
    failures.push(...body.failures);
  }

  try {
    await writeUsageBatch(env.DB, calls, failures);
  } catch (err) {
    console.error("keygate: writing usage failed; the batch will be retried", err instanceof Error ? err.message : String(err));
    batch.retryAll({ delaySeconds: 5 });
    return;
  }
  batch.ackAll();
}
