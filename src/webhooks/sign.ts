import { Webhook } from "standardwebhooks";
import type { WebhookEvent } from "./events";

/** The delivered body: SPEC §10's `{type, timestamp, data}`; the id travels in `webhook-id`. */
export function webhookBody(event: WebhookEvent): string {
  return JSON.stringify({ type: event.type, timestamp: event.timestamp, data: event.data });
}

/**
 * Standard Webhooks headers for one delivery attempt, signed with the reference implementation
 * (the `standardwebhooks` package): `webhook-signature: v1,<base64 HMAC-SHA256 of "<id>.<timestamp>.<body>">`
 * keyed with the base64-decoded part of `whsec_…`. The timestamp is the attempt's, so a retry hours
 * later still passes a receiver's 5-minute tolerance; the id stays the event's.
 */
export function signedHeaders(secret: string, event: WebhookEvent, body: string, nowMs: number): Record<string, string> {
  const timestamp = new Date(Math.floor(nowMs / 1000) * 1000);
  return {
    "content-type": "application/json",
    "user-agent": "keygate-webhooks",
    "webhook-id": event.id,
    "webhook-timestamp": String(timestamp.getTime() / 1000),
    "webhook-signature": new Webhook(secret).sign(event.id, timestamp, body),
  };
}
