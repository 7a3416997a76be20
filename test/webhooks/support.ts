// The loopback webhook receiver (test/node/leak-fixtures.ts) as the tests see it.
import { env } from "cloudflare:workers";
import { eventually } from "../gateway/seed";
import type { ReceivedWebhook } from "../node/received-webhook.ts";

export type Delivery = ReceivedWebhook;

export async function deliveriesFor(orgId: string): Promise<Delivery[]> {
  const res = await fetch(`${env.TEST_LEAK_FIXTURES_URL}/webhooks/received?org_id=${encodeURIComponent(orgId)}`);
  return (await res.json()) as Delivery[];
}

/** Waits until the receiver accepted (2xx) at least `count` deliveries about `orgId`. */
export function delivered(orgId: string, count: number, timeoutMs = 30_000): Promise<Delivery[]> {
  return eventually(async () => {
    const all = await deliveriesFor(orgId);
    return all.filter((d) => d.status < 300).length >= count ? all : undefined;
  }, timeoutMs);
}

/** The next `times` deliveries about `orgId` answer 503. */
export async function failDeliveries(orgId: string, times: number): Promise<void> {
  await fetch(`${env.TEST_LEAK_FIXTURES_URL}/webhooks/fail`, { method: "POST", body: JSON.stringify({ org_id: orgId, times }) });
}

/** Standard Webhooks, recomputed here with WebCrypto from the secret: base64 HMAC-SHA256 of "<id>.<timestamp>.<body>". */
export async function expectedSignature(secret: string, id: string, timestamp: string, body: string): Promise<string> {
  const keyBytes = Uint8Array.from(atob(secret.slice("whsec_".length)), (c) => c.charCodeAt(0));
  const key = await crypto.subtle.importKey("raw", keyBytes, { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  const mac = new Uint8Array(await crypto.subtle.sign("HMAC", key, new TextEncoder().encode(`${id}.${timestamp}.${body}`)));
  return `v1,${btoa(String.fromCharCode(...mac))}`;
}
