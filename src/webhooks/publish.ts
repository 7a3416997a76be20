import type { Config } from "../config";
import type { Env } from "../env";
import type { WebhookEvent } from "./events";

/** Queues' `sendBatch` takes at most 100 messages. */
const SEND_BATCH_MAX = 100;

export type PublishEvents = (events: (WebhookEvent | null)[]) => Promise<void>;

/**
 * Hands events to WEBHOOK_QUEUE, whose consumer signs and delivers them with retries. Called after
 * the change and its audit row committed, so an event is only sent for a change that happened.
 * A failed send is logged, not thrown: the change is done and answering 5xx would invite the client
 * to repeat it; the audit row still records it.
 */
export function eventPublisher(env: Env, config: Config): PublishEvents {
  return async (events) => {
    const ready = events.filter((e): e is WebhookEvent => e !== null);
    if (!config.webhook || ready.length === 0) return;
    try {
      for (let i = 0; i < ready.length; i += SEND_BATCH_MAX) {
        await env.WEBHOOK_QUEUE.sendBatch(ready.slice(i, i + SEND_BATCH_MAX).map((body) => ({ body, contentType: "json" as const })));
      }
    } catch (err) {
      console.error("keygate: queueing webhook events failed", ready.map((e) => `${e.type} ${e.id}`).join(", "), err instanceof Error ? err.message : String(err));
    }
  };
}
