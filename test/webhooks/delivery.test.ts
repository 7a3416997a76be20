// SPEC §10 webhooks end to end: management changes -> WEBHOOK_QUEUE -> signed POST -> the loopback
// receiver, which verifies every delivery with the Standard Webhooks reference implementation.
import { createExecutionContext, createMessageBatch, createScheduledController, getQueueResult, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import worker from "../../src/index";
import type { WebhookEvent } from "../../src/webhooks/events";
import { EXPIRING_KEYS_CRON } from "../../src/webhooks/expiring";
import { adminFetch, createKey, createOrg } from "../harness";
import { expectJson, setKeyColumns } from "../management/support";
import { keysEndpoint, leakItems, newGithubSigner, workerWith } from "../leaks/support";
import { delivered, deliveriesFor, expectedSignature, failDeliveries } from "./support";

const accepted = (all: Awaited<ReturnType<typeof deliveriesFor>>) => all.filter((d) => d.status < 300);

describe("webhooks", () => {
  it("each key change is delivered once, signed, with the audit row's id and never the key", async () => {
    const { id: orgId } = await createOrg();
    const { id: keyId, key } = await createKey(orgId, { name: "ci" });
    expect((await adminFetch(`/orgs/${orgId}/keys/${keyId}`, { method: "PATCH", json: { name: "ci-2" } })).status).toBe(200);
    const rotated = await expectJson<{ data: { id: string; key: string } }>(await adminFetch(`/orgs/${orgId}/keys/${keyId}/rotate`, { method: "POST", json: {} }), 201);
    expect((await adminFetch(`/orgs/${orgId}/keys/${rotated.data.id}/revoke`, { method: "POST" })).status).toBe(200);
    // A repeated revoke changes nothing, so announces nothing.
    expect((await adminFetch(`/orgs/${orgId}/keys/${rotated.data.id}/revoke`, { method: "POST" })).status).toBe(200);

    const all = await delivered(orgId, 5);
    const got = accepted(all);
    expect(got.map((d) => d.body!.type).sort()).toEqual(["key.created", "key.created", "key.revoked", "key.rotated", "key.updated"]);
    expect(new Set(got.map((d) => d.id)).size).toBe(got.length);
    for (const d of got) {
      expect(d.verified).toBe(true);
      expect(d.signature).toBe(await expectedSignature(env.WEBHOOK_SECRET!, d.id, d.timestamp, d.raw));
      expect(Math.abs(Number(d.timestamp) - Date.now() / 1000)).toBeLessThan(300);
      expect(d.raw).not.toContain(key.slice(3));
      expect(d.raw).not.toContain(rotated.data.key.slice(3));
      expect(Object.keys(d.body!).sort()).toEqual(["data", "timestamp", "type"]);
      expect(d.body!.data.org_id).toBe(orgId);
    }
    const byType = Object.fromEntries(got.map((d) => [d.body!.type, d.body!.data]));
    expect(byType["key.updated"]).toMatchObject({ key_id: keyId, actor: "operator" });
    expect(byType["key.rotated"]).toMatchObject({ key_id: keyId, rotated_to: rotated.data.id });
    expect(byType["key.revoked"]).toMatchObject({ key_id: rotated.data.id });

    // webhook-id is the audit row's id: the receiver can match an event to the org's audit trail.
    const audit = await expectJson<{ data: { id: string; action: string }[] }>(await adminFetch(`/orgs/${orgId}/audit?per_page=100`), 200);
    const auditIds = new Set(audit.data.filter((e) => e.action.startsWith("key.")).map((e) => e.id));
    expect(got.every((d) => auditIds.has(d.id))).toBe(true);
    expect(accepted(await deliveriesFor(orgId))).toHaveLength(5);
  });

  it("an event's data reads as its audit row's details: times in ISO 8601, windows as durations, never epoch ms", async () => {
    const { id: orgId } = await createOrg();
    const { id: keyId, data: key } = await createKey(orgId, { name: "ci", expires_in: "30d", rate_limit: { limit: 10, window: "1m" } });
    expect((await adminFetch(`/orgs/${orgId}/keys/${keyId}`, { method: "PATCH", json: { rate_limit: { limit: 5, window: "30s" } } })).status).toBe(200);
    expect((await adminFetch(`/orgs/${orgId}/keys/${keyId}`, { method: "PATCH", json: { enabled: false } })).status).toBe(200);
    const got = accepted(await delivered(orgId, 3));
    const audit = await expectJson<{ data: { id: string; actor: string; key_id: string; details: Record<string, unknown> }[] }>(await adminFetch(`/orgs/${orgId}/audit?per_page=100`), 200);
    const rows = new Map(audit.data.map((row) => [row.id, row]));
    for (const d of got) {
      const row = rows.get(d.id)!;
      expect(d.body!.data).toEqual({ ...row.details, org_id: orgId, key_id: row.key_id, actor: row.actor });
    }
    const byType = Object.fromEntries(got.map((d) => [d.body!.type, d.body!.data]));
    const limits = (limit: number, window: string) => ({ limits: [{ name: "default", limit, window }] });
    expect(byType["key.created"]).toMatchObject({ expires_at: key.expires_at, rate_limit: limits(10, "1m") });
    expect(byType["key.updated"]).toMatchObject({ changes: { rate_limit: { from: limits(10, "1m"), to: limits(5, "30s") } } });
  });

  it("a receiver that is down gets the same event again, with the same webhook-id, until it accepts", async () => {
    const { id: orgId } = await createOrg();
    await failDeliveries(orgId, 1);
    const { id: keyId } = await createKey(orgId);
    const all = await delivered(orgId, 1);
    expect(all.map((d) => d.status)).toEqual([503, 204]);
    expect(all[0]!.id).toBe(all[1]!.id);
    expect(all[1]!.body).toEqual(all[0]!.body);
    expect(all[1]!.body).toMatchObject({ type: "key.created", data: { key_id: keyId } });
    expect(all.every((d) => d.verified)).toBe(true);
  });

  it("the consumer retries failed deliveries with a growing delay and acknowledges accepted ones", async () => {
    const event: WebhookEvent = { id: "evt_test_retry", type: "key.created", timestamp: new Date().toISOString(), data: { org_id: "org_nobody", key_id: "key_x", actor: "operator" } };
    // Port 9 (discard) has no listener on loopback: the delivery fails to connect.
    const down = { ...env, WEBHOOK_URL: "http://127.0.0.1:9/webhooks" };
    const batch = createMessageBatch<WebhookEvent>("keygate-webhooks", [
      { id: "m1", timestamp: new Date(), attempts: 1, body: event },
      { id: "m2", timestamp: new Date(), attempts: 3, body: { ...event, id: "evt_test_retry_2" } },
    ]);
    // What the consumer asked of each message (getQueueResult does not report the delays).
    const asked: Record<string, unknown> = {};
    for (const message of batch.messages) {
      const retry = message.retry.bind(message);
      Object.defineProperty(message, "retry", { value: (options?: QueueRetryOptions) => ((asked[message.id] = options), retry(options)) });
    }
    const ctx = createExecutionContext();
    await worker.queue(batch, down);
    const result = await getQueueResult(batch, ctx);
    expect(result.retryMessages.map((m) => m.msgId)).toEqual(["m1", "m2"]);
    expect(result.explicitAcks).toEqual([]);
    expect(asked).toEqual({ m1: { delaySeconds: 5 }, m2: { delaySeconds: 120 } });

    const up = createMessageBatch<WebhookEvent>("keygate-webhooks", [{ id: "m3", timestamp: new Date(), attempts: 2, body: event }]);
    const ctx2 = createExecutionContext();
    await worker.queue(up, env);
    const ok = await getQueueResult(up, ctx2);
    expect(ok.explicitAcks).toEqual(["m3"]);
    expect(ok.retryMessages).toEqual([]);
  });

  it("a leak report is announced as key.leaked and key.revoked", async () => {
    const keys = keysEndpoint();
    const signer = await newGithubSigner();
    await keys.publish(signer);
    const { id: orgId } = await createOrg();
    const { id: keyId, key } = await createKey(orgId);
    const gw = workerWith({ GITHUB_SECRET_SCANNING_KEYS_URL: keys.url });
    expect((await gw.report(JSON.stringify(leakItems([{ token: key, url: "https://github.com/o/r/blob/1/.env" }])), signer)).status).toBe(200);
    const got = accepted(await delivered(orgId, 3));
    const leaked = got.find((d) => d.body!.type === "key.leaked")!;
    expect(leaked.body!.data).toMatchObject({ key_id: keyId, url: "https://github.com/o/r/blob/1/.env", source: "content", type: "keygate_api_key", actor: "github-secret-scanning" });
    expect(got.find((d) => d.body!.type === "key.revoked")!.body!.data).toMatchObject({ key_id: keyId, reason: "leaked" });
    expect(got.map((d) => d.raw).join("")).not.toContain(key.slice(3));
  });

  it("the daily cron announces each key expiring within 7 days once", async () => {
    const { id: orgId } = await createOrg();
    const soon = await createKey(orgId, { expires_in: "30d" });
    const later = await createKey(orgId, { expires_in: "30d" });
    const never = await createKey(orgId, { expires_in: "never" });
    const expired = await createKey(orgId, { expires_in: "30d" });
    const rotatedAway = await createKey(orgId, { expires_in: "30d" });
    // The old key of a rotation with a grace period expires within a day, but key.rotated already said so.
    expect((await adminFetch(`/orgs/${orgId}/keys/${rotatedAway.id}/rotate`, { method: "POST", json: { grace_period: "1d" } })).status).toBe(201);
    const now = Date.now();
    await setKeyColumns(soon.id, { expires_at: now + 3 * 86_400_000 });
    await setKeyColumns(later.id, { expires_at: now + 8 * 86_400_000 });
    await setKeyColumns(expired.id, { expires_at: now - 1000 });
    await delivered(orgId, 7);

    for (let run = 0; run < 2; run++) {
      const controller = createScheduledController({ cron: EXPIRING_KEYS_CRON, scheduledTime: now });
      const ctx = createExecutionContext();
      await worker.scheduled(controller, env);
      await waitOnExecutionContext(ctx);
    }
    const all = await delivered(orgId, 8);
    const expiring = accepted(all).filter((d) => d.body!.type === "key.expiring");
    expect(expiring).toHaveLength(1);
    expect(expiring[0]!.body!.data).toMatchObject({ key_id: soon.id, expires_at: new Date(now + 3 * 86_400_000).toISOString(), actor: "keygate" });
    expect([never.id, later.id, expired.id, rotatedAway.id]).not.toContain(expiring[0]!.body!.data.key_id);
    // Still once after the deliveries had time to arrive.
    expect(accepted(await deliveriesFor(orgId)).filter((d) => d.body!.type === "key.expiring")).toHaveLength(1);
  });

  it("the daily cron's key.rotation_due reminder is also a webhook, once per key per period, with the audit row's id", async () => {
    const { id: orgId } = await createOrg();
    const old = await createKey(orgId);
    const young = await createKey(orgId);
    const now = Date.now();
    await setKeyColumns(old.id, { created_at: now - 100 * 86_400_000 });
    await delivered(orgId, 2);

    for (let run = 0; run < 2; run++) await worker.scheduled(createScheduledController({ cron: EXPIRING_KEYS_CRON, scheduledTime: now }), env);
    const all = await delivered(orgId, 3);
    const due = accepted(all).filter((d) => d.body!.type === "key.rotation_due");
    expect(due).toHaveLength(1);
    expect(due[0]!.body!.data).toMatchObject({ key_id: old.id, actor: "keygate", age_days: 100 });
    expect(due[0]!.body!.data.key_id).not.toBe(young.id);
    const audit = (await (await adminFetch(`/orgs/${orgId}/audit?action=key.rotation_due`)).json()) as { data: { id: string; details: Record<string, unknown> }[] };
    expect(audit.data.map((row) => row.id)).toEqual([due[0]!.id]);
    // Like every event: data is the audit row's details plus org_id, key_id and actor.
    expect(due[0]!.body!.data).toEqual({ ...audit.data[0]!.details, org_id: orgId, key_id: old.id, actor: "keygate" });
  });
});
