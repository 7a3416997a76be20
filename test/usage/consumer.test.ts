import { createExecutionContext, createMessageBatch, getQueueResult } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { and, eq } from "drizzle-orm";
import { drizzle } from "drizzle-orm/d1";
import { describe, expect, it } from "vitest";
import { hourStart } from "../../src/store/usage";
import { apiKeys, auditEvents, authFailures, usageEvents } from "../../src/store/schema";
import { consumeUsage } from "../../src/usage/consumer";
import type { AuthFailureRecord, CallRecord, UsageMessage } from "../../src/usage/record";
import { seedKey } from "../gateway/seed";

const db = () => drizzle(env.DB);
let messageSeq = 0;

/** Runs the consumer on these message bodies, as Queues would deliver them, and returns what it acked. */
async function consume(bodies: unknown[]) {
  const batch = createMessageBatch<UsageMessage>(
    "keygate-usage",
    bodies.map((body) => ({ id: `msg-${++messageSeq}`, timestamp: Date.now(), attempts: 1, body: body as UsageMessage })),
  );
  const ctx = createExecutionContext();
  await consumeUsage(batch, env);
  return getQueueResult(batch, ctx);
}

const call = (keyId: string, orgId: string, at: number, status = 200, path = "/demo/x"): CallRecord => ({ keyId, orgId, method: "GET", path, status, latencyMs: 3, at });

describe("usage consumer: calls", () => {
  it("inserts every call and acks the batch", async () => {
    const { id, orgId } = await seedKey();
    const at = Date.now();
    const result = await consume([{ calls: [call(id, orgId, at), call(id, orgId, at + 1, 404, "/demo/missing")], failures: [] }]);
    expect(result.ackAll).toBe(true);
    expect(result.retryBatch.retry).toBe(false);
    const rows = await db().select().from(usageEvents).where(eq(usageEvents.keyId, id)).orderBy(usageEvents.at);
    expect(rows.map((r) => [r.orgId, r.method, r.path, r.status, r.latencyMs, r.at])).toEqual([
      [orgId, "GET", "/demo/x", 200, 3, at],
      [orgId, "GET", "/demo/missing", 404, 3, at + 1],
    ]);
  });

  it("writes a full batch of thousands of calls (more than one statement's worth)", async () => {
    const { id, orgId } = await seedKey();
    const at = Date.now();
    const messages = Array.from({ length: 100 }, (_, m) => ({ calls: Array.from({ length: 25 }, (_, i) => call(id, orgId, at + m * 25 + i)), failures: [] }));
    expect((await consume(messages)).ackAll).toBe(true);
    const [row] = await db().select({ n: usageEvents.id }).from(usageEvents).where(eq(usageEvents.keyId, id)).orderBy(usageEvents.id);
    expect(row).toBeDefined();
    const count = await env.DB.prepare("SELECT count(*) AS n FROM usage_events WHERE key_id = ?").bind(id).first<{ n: number }>();
    expect(count?.n).toBe(2500);
  });

  it("sets last_used_at to the latest call and never moves it back", async () => {
    const a = await seedKey();
    const b = await seedKey();
    const t = Date.now();
    await consume([{ calls: [call(a.id, a.orgId, t - 50), call(a.id, a.orgId, t), call(b.id, b.orgId, t - 10)], failures: [] }]);
    const lastUsed = async (id: string) => (await db().select({ v: apiKeys.lastUsedAt }).from(apiKeys).where(eq(apiKeys.id, id)))[0]?.v;
    expect(await lastUsed(a.id)).toBe(t);
    expect(await lastUsed(b.id)).toBe(t - 10);
    // A late (retried) batch with older calls leaves the newer value alone.
    await consume([{ calls: [call(a.id, a.orgId, t - 1000)], failures: [] }]);
    expect(await lastUsed(a.id)).toBe(t);
  });
});

describe("usage consumer: failed authentications", () => {
  const failure = (over: Partial<AuthFailureRecord>): AuthFailureRecord => ({ source: "203.0.113.1", reason: "invalid_key", keyId: null, orgId: null, at: Date.now(), ...over });

  it("aggregates failures by a known key into one auth.failed audit row per source, reason and hour", async () => {
    const { id, orgId } = await seedKey({ revokedAt: Date.now() });
    const at = Date.now();
    const revoked = (source: string, dt: number) => failure({ source, reason: "key_revoked", keyId: id, orgId, at: at + dt });
    await consume([{ calls: [], failures: [revoked("198.51.100.1", 0), revoked("198.51.100.1", 5), revoked("198.51.100.2", 1)] }]);
    await consume([{ calls: [], failures: [revoked("198.51.100.1", 9)] }]);

    const rows = await db().select().from(auditEvents).where(and(eq(auditEvents.orgId, orgId), eq(auditEvents.action, "auth.failed"))).orderBy(auditEvents.source);
    expect(rows.map((r) => [r.source, r.reason, r.keyId, r.count])).toEqual([
      ["198.51.100.1", "key_revoked", id, 3],
      ["198.51.100.2", "key_revoked", id, 1],
    ]);
    expect(rows[0]!.createdAt).toBe(at);
    expect(rows[0]!.lastSeenAt).toBe(at + 9);
    expect(rows[0]!.details).toEqual({ hour_start: hourStart(at) });
  });

  it("aggregates failures nobody owns into auth_failures, never into an org's audit trail", async () => {
    const source = `192.0.2.${Math.floor(Math.random() * 250)}-${Date.now()}`;
    const at = Date.now();
    await consume([{ calls: [], failures: [failure({ source, at }), failure({ source, at: at + 1 }), failure({ source, reason: "malformed_key", at })] }]);
    await consume([{ calls: [], failures: [failure({ source, at: at + 2 })] }]);
    const rows = await db().select().from(authFailures).where(eq(authFailures.source, source)).orderBy(authFailures.reason);
    expect(rows.map((r) => [r.reason, r.count, r.firstSeenAt, r.lastSeenAt])).toEqual([
      ["invalid_key", 3, at, at + 2],
      ["malformed_key", 1, at, at],
    ]);
    const audit = await db().select().from(auditEvents).where(eq(auditEvents.source, source));
    expect(audit).toEqual([]);
  });

  it("starts a new row in a new hour", async () => {
    const source = `hour-test-${Date.now()}`;
    const hour = hourStart(Date.now());
    await consume([{ calls: [], failures: [failure({ source, at: hour - 1 }), failure({ source, at: hour })] }]);
    const rows = await db().select().from(authFailures).where(eq(authFailures.source, source));
    expect(rows.map((r) => r.count)).toEqual([1, 1]);
  });
});

describe("usage consumer: delivery guarantees", () => {
  it("drops a malformed message but stores the rest of the batch", async () => {
    const { id, orgId } = await seedKey();
    const result = await consume([{ nonsense: true }, null, { calls: [call(id, orgId, Date.now())], failures: [] }]);
    expect(result.ackAll).toBe(true);
    const rows = await db().select().from(usageEvents).where(eq(usageEvents.keyId, id));
    expect(rows).toHaveLength(1);
  });

  it("acks nothing and asks for a retry when D1 rejects the batch, and stores none of it", async () => {
    const { id, orgId } = await seedKey();
    const good = call(id, orgId, Date.now());
    // A NOT NULL violation in the same batch makes D1 refuse the whole transaction.
    const bad = { ...call(id, orgId, Date.now()), path: null } as unknown as CallRecord;
    const result = await consume([{ calls: [good], failures: [] }, { calls: [bad], failures: [] }]);
    expect(result.ackAll).toBe(false);
    expect(result.explicitAcks).toEqual([]);
    expect(result.retryBatch.retry).toBe(true);
    const rows = await db().select().from(usageEvents).where(eq(usageEvents.keyId, id));
    expect(rows).toEqual([]);
  });
});
