import { loadConfig } from "../config";
import type { Env } from "../env";
import type { WebhookEvent } from "./events";
import { signedHeaders, webhookBody } from "./sign";

/** The queue's name in wrangler.toml (or its prefix, per environment); `src/index.ts` routes its batches here. */
export const WEBHOOK_QUEUE_NAME = "keygate-webhooks";

/** A receiver gets this long to answer one delivery before the attempt counts as failed. */
const DELIVERY_TIMEOUT_MS = 15_000;

/**
 * Backoff per failed attempt, in the spirit of Standard Webhooks' schedule (seconds to hours); Queues
 * caps one delay at 12 h. `max_retries` in wrangler.toml ends the schedule (about 30 h in all).
 */
const RETRY_DELAYS_SECONDS = [5, 30, 120, 600, 1800, 3600, 7200, 14_400, 28_800, 43_200];

export function retryDelaySeconds(attempts: number): number {
  return RETRY_DELAYS_SECONDS[Math.min(Math.max(attempts, 1), RETRY_DELAYS_SECONDS.length) - 1]!;
}

/**
 * WEBHOOK_QUEUE consumer: one signed POST per event. 2xx acknowledges it; anything else (an error
 * status, a timeout, a refused connection) retries that message alone after the backoff, with the same
 * `webhook-id` and a fresh timestamp and signature.
 */
export async function deliverWebhooks(batch: MessageBatch<WebhookEvent>, env: Env): Promise<void> {
  const target = loadConfig(env).webhook;
  if (!target) {
    // WEBHOOK_URL was removed after these were queued: there is nobody left to tell.
    console.warn(`keygate: dropping ${batch.messages.length} webhook event(s): WEBHOOK_URL is not set`);
    batch.ackAll();
    return;
  }
  await Promise.all(batch.messages.map((message) => deliverOne(message, target)));
}

async function deliverOne(message: Message<WebhookEvent>, target: { url: string; secret: string }): Promise<void> {
  const event = message.body;
  const body = webhookBody(event);
  let problem: string;
  try {
    const res = await fetch(target.url, {
      method: "POST",
      headers: signedHeaders(target.secret, event, body, Date.now()),
      body,
      // A redirect is not a delivery: following it would send the signed event somewhere unconfigured.
      redirect: "manual",
      signal: AbortSignal.timeout(DELIVERY_TIMEOUT_MS),
    });
    await res.body?.cancel();
    if (res.status >= 200 && res.status < 300) {
      message.ack();
      return;
    }
    problem = `answered ${res.status}`;
  } catch (err) {
    problem = err instanceof Error ? `${err.name}: ${err.message}` : "failed";
  }
  const delaySeconds = retryDelaySeconds(message.attempts);
  console.warn(`keygate: webhook ${event.type} ${event.id} attempt ${message.attempts} ${problem}; retrying in ${delaySeconds}s`);
  message.retry({ delaySeconds });
}
