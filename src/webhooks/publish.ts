import type { Config } from "../config";
import type { Env } from "../env";
import type { WebhookEvent } from "./events";

/** Queues' `sendBatch` takes at most 100 messages. */
const SEND_BATCH_MAX = 100;

export type PublishEvents = (events: (WebhookEvent | null)[]) => Promise<void>;

/**
 * Hands events to WEBHOOK_QUEUE, whose consumer signs and delivers them with retries. Called after
 * the change and its audit row committed, so an event is only sent for a change that happened.
 * A send is tried three times; one that still fails is logged, not thrown: the change is done and
 * answering 5xx would invite the client to repeat it; the audit row still records it.
 */
export function eventPublisher(env: Env, config: Config): PublishEvents {
  return async (events) => {
    const ready = events.filter((e): e is WebhookEvent => e !== null);
    if (!config.webhook || ready.length === 0) return;
    for (let i = 0; i < ready.length; i += SEND_BATCH_MAX) {
      const chunk = ready.slice(i, i + SEND_BATCH_MAX);
      try {
        await sendWithRetries(env.WEBHOOK_QUEUE, chunk);
      } catch (err) {
        console.error("keygate: queueing webhook events failed", chunk.map((e) => `${e.type} ${e.id}`).join(", "), err instanceof Error ? err.message : String(err));
      }
    }
  };
}

/** Pauses before the second and third try: a send that fails is usually a blip, and the change is already made. */
const SEND_RETRY_DELAYS_MS = [50, 250];

async function sendWithRetries(queue: Queue<WebhookEvent>, events: WebhookEvent[]): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    try {
      await queue.sendBatch(events.map((body) => ({ body, contentType: "json" as const })));
      return;
    } catch (err) {
      if (attempt >= SEND_RETRY_DELAYS_MS.length) throw err;
      await new Promise((resolve) => setTimeout(resolve, SEND_RETRY_DELAYS_MS[attempt]));
    }
  }
}
