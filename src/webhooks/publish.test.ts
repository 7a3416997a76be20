import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { parseConfig } from "../config";
import type { Env } from "../env";
import type { WebhookEvent } from "./events";
import { eventPublisher } from "./publish";

const SECRET = `whsec_${btoa("0123456789abcdef0123456789abcdef")}`;
const config = parseConfig({ TIERS: { free: { limit: 1, window: "1s" } }, WEBHOOK_URL: "https://hooks.example.com/k", WEBHOOK_SECRET: SECRET });
const event = (i: number): WebhookEvent => ({ id: `evt_${i}`, type: "key.created", timestamp: "2026-12-04T00:00:00.000Z", data: { org_id: "org_1", key_id: `key_${i}`, actor: "operator" } });

/** A stand-in for the Queue binding that fails its first `failFirst` sends (the platform's failure, not ours). */
function flakyQueue(failFirst: number) {
  const sent: WebhookEvent[][] = [];
  let failures = failFirst;
  return {
    sent,
    queue: {
      async sendBatch(messages: Iterable<MessageSendRequest<WebhookEvent>>) {
        if (failures-- > 0) throw new Error("queue unavailable");
        sent.push([...messages].map((m) => m.body));
      },
    } as unknown as Queue<WebhookEvent>,
  };
}

describe("eventPublisher", () => {
  it("sends in batches of at most 100 and skips nulls", async () => {
    const { sent, queue } = flakyQueue(0);
    await eventPublisher({ ...env, WEBHOOK_QUEUE: queue } as Env, config)([...Array.from({ length: 150 }, (_, i) => event(i)), null]);
    expect(sent.map((batch) => batch.length)).toEqual([100, 50]);
  });

  it("tries a failed send again, and gives up (without throwing) after three tries", async () => {
    const blip = flakyQueue(2);
    await eventPublisher({ ...env, WEBHOOK_QUEUE: blip.queue } as Env, config)([event(1)]);
    expect(blip.sent).toEqual([[event(1)]]);
    const outage = flakyQueue(3);
    await expect(eventPublisher({ ...env, WEBHOOK_QUEUE: outage.queue } as Env, config)([event(2)])).resolves.toBeUndefined();
    expect(outage.sent).toEqual([]);
  });

  it("sends nothing without WEBHOOK_URL", async () => {
    const { sent, queue } = flakyQueue(0);
    await eventPublisher({ ...env, WEBHOOK_QUEUE: queue } as Env, parseConfig({ TIERS: { free: { limit: 1, window: "1s" } } }))([event(1)]);
    expect(sent).toEqual([]);
  });
});
