import { createExecutionContext, createMessageBatch, getQueueResult } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { and, eq } from "drizzle-orm";
import { drizzle } from "drizzle-orm/d1";
import { describe, expect, it } from "vitest";
import { apiKeys, auditEvents, authFailures } from "../../src/store/schema";
import { consumeUsage } from "../../src/usage/consumer";
import { bucketOf, HISTOGRAM_BUCKETS } from "../../src/store/histogram";
import type { FailureAggregate, RecentCall, UsageAggregate, UsageMessage } from "../../src/store/usage_message";
import { seedKey } from "../gateway/seed";

const db = () => drizzle(env.DB);
const MINUTE = 60_000;
const HOUR = 3_600_000;
let deliverySeq = 0;

/** Runs the consumer on these message bodies, as Queues would deliver them, and returns what it acked. */
async function consume(bodies: unknown[]) {
  const batch = createMessageBatch<unknown>(
    "keygate-usage",
    bodies.map((body) => ({ id: `delivery-${++deliverySeq}`, timestamp: new Date(), attempts: 1, body })),
  );
  const ctx = createExecutionContext();
  await consumeUsage(batch, env);
  return getQueueResult(batch, ctx);
}

const histogramOf = (...latencies: number[]) => {
  const h = new Array<number>(HISTOGRAM_BUCKETS).fill(0);
  for (const ms of latencies) h[bucketOf(ms)]!++;
  return h;
};
const aggregate = (keyId: string, orgId: string, minute: number, over: Partial<UsageAggregate> = {}): UsageAggregate => ({
  keyId,
  orgId,
  minute,
  statusClass: 2,
  count: 2,
  maxMs: 9,
  histogram: histogramOf(3, 9),
  ...over,
});
const recentCall = (keyId: string, orgId: string, at: number, path = "/demo/x"): RecentCall => ({ keyId, orgId, method: "GET", path, status: 200, latencyMs: 3, at });
const message = (over: Partial<UsageMessage>): UsageMessage => ({ v: 2, id: crypto.randomUUID(), aggregates: [], recent: [], failures: [], ...over });

async function rows(table: "usage_minutes" | "usage_hours", keyId: string) {
  const column = table === "usage_minutes" ? "minute" : "hour";
  const { results } = await env.DB.prepare(`SELECT ${column} AS start, status_class, count, max_ms, h1, h2 FROM ${table} WHERE key_id = ? ORDER BY 1, 2`).bind(keyId).all();
  return results;
}

describe("usage consumer: aggregates", () => {
  it("upserts minute rows and rolls them up into hour rows, adding counts and histograms", async () => {
    const { id, orgId } = await seedKey();
    const hour = Math.floor(Date.now() / HOUR) * HOUR;
    const result = await consume([
      message({ aggregates: [aggregate(id, orgId, hour), aggregate(id, orgId, hour + MINUTE, { statusClass: 4, count: 1, maxMs: 2, histogram: histogramOf(2) })] }),
      // Another isolate's view of the same minute.
      message({ aggregates: [aggregate(id, orgId, hour, { count: 1, maxMs: 40, histogram: histogramOf(40) })] }),
    ]);
    expect(result.ackAll).toBe(true);
    expect(await rows("usage_minutes", id)).toEqual([
      { start: hour, status_class: 2, count: 3, max_ms: 40, h1: 0, h2: 1 },
      { start: hour + MINUTE, status_class: 4, count: 1, max_ms: 2, h1: 1, h2: 0 },
    ]);
    expect(await rows("usage_hours", id)).toEqual([
      { start: hour, status_class: 2, count: 3, max_ms: 40, h1: 0, h2: 1 },
      { start: hour, status_class: 4, count: 1, max_ms: 2, h1: 1, h2: 0 },
    ]);
  });

  it("a redelivered batch does not count twice", async () => {
    const { id, orgId } = await seedKey();
    const minute = Math.floor(Date.now() / MINUTE) * MINUTE;
    const sent = [message({ aggregates: [aggregate(id, orgId, minute)], recent: [recentCall(id, orgId, minute + 1)] })];
    expect((await consume(sent)).ackAll).toBe(true);
    // The ack was lost: Queues delivers the very same messages again (and once more inside one batch).
    expect((await consume([...sent, ...sent])).ackAll).toBe(true);
    expect((await rows("usage_minutes", id)).map((r) => r.count)).toEqual([2]);
    expect((await rows("usage_hours", id)).map((r) => r.count)).toEqual([2]);
    const recent = await env.DB.prepare("SELECT count(*) AS n FROM usage_recent WHERE key_id = ?").bind(id).first<{ n: number }>();
    expect(recent?.n).toBe(1);
  });

  it("keeps at most the 100 latest recent calls per key (a ring, not append-only)", async () => {
    const { id, orgId } = await seedKey();
    const at = Date.now();
    for (let round = 0; round < 3; round++) {
      await consume([message({ recent: Array.from({ length: 60 }, (_, i) => recentCall(id, orgId, at + round * 60 + i, `/r/${round * 60 + i}`)) })]);
    }
    const { results } = await env.DB.prepare("SELECT path FROM usage_recent WHERE key_id = ? ORDER BY at").bind(id).all<{ path: string }>();
    expect(results.map((r) => r.path)).toEqual(Array.from({ length: 100 }, (_, i) => `/r/${80 + i}`));
  });

  it("sets last_used_at to the latest call and never moves it back", async () => {
    const a = await seedKey();
    const b = await seedKey();
    const t = Date.now();
    await consume([message({ recent: [recentCall(a.id, a.orgId, t - 50), recentCall(a.id, a.orgId, t), recentCall(b.id, b.orgId, t - 10)] })]);
    const lastUsed = async (id: string) => (await db().select({ v: apiKeys.lastUsedAt }).from(apiKeys).where(eq(apiKeys.id, id)))[0]?.v;
    expect(await lastUsed(a.id)).toBe(t);
    expect(await lastUsed(b.id)).toBe(t - 10);
    // A late (retried) batch with older calls leaves the newer value alone.
    await consume([message({ recent: [recentCall(a.id, a.orgId, t - 1000)] })]);
    expect(await lastUsed(a.id)).toBe(t);
  });

  it("writes a full batch of 100 messages with thousands of aggregates (more than one statement's worth)", async () => {
    const { id, orgId } = await seedKey();
    const start = Math.floor(Date.now() / MINUTE) * MINUTE - 2 * 24 * 60 * MINUTE;
    const bodies = Array.from({ length: 100 }, (_, m) => message({ aggregates: Array.from({ length: 30 }, (_, i) => aggregate(id, orgId, start + (m * 30 + i) * MINUTE, { count: 1 })) }));
    expect((await consume(bodies)).ackAll).toBe(true);
    const total = await env.DB.prepare("SELECT count(*) AS n, sum(count) AS calls FROM usage_minutes WHERE key_id = ?").bind(id).first<{ n: number; calls: number }>();
    expect(total).toEqual({ n: 3000, calls: 3000 });
    const hours = await env.DB.prepare("SELECT sum(count) AS calls FROM usage_hours WHERE key_id = ?").bind(id).first<{ calls: number }>();
    expect(hours?.calls).toBe(3000);
  });
});

describe("usage consumer: failed authentications", () => {
  // The middle of the previous hour: every failure of a test falls in one hour, however long the test takes
  // (the hour was read from the real clock at each call, and one turning over split a row in two).
  const midHour = () => Math.floor(Date.now() / HOUR) * HOUR - HOUR / 2;
  const hourOf = (at: number) => Math.floor(at / HOUR) * HOUR;
  const failure = (at: number, over: Partial<FailureAggregate>): FailureAggregate => ({ source: "203.0.113.1", reason: "invalid_key", keyId: null, orgId: null, hour: hourOf(at), count: 1, firstAt: at, lastAt: at, ...over });

  it("adds failures by a known key into one auth.failed audit row per source, reason and hour", async () => {
    const { id, orgId } = await seedKey({ revokedAt: Date.now() });
    const at = midHour();
    const revoked = (source: string, count: number, dt: number) => failure(at, { source, reason: "key_revoked", keyId: id, orgId, count, lastAt: at + dt });
    await consume([message({ failures: [revoked("198.51.100.1", 3, 5), revoked("198.51.100.2", 1, 1)] })]);
    await consume([message({ failures: [revoked("198.51.100.1", 1, 9)] })]);

    const audit = await db().select().from(auditEvents).where(and(eq(auditEvents.orgId, orgId), eq(auditEvents.action, "auth.failed"))).orderBy(auditEvents.source);
    expect(audit.map((r) => [r.source, r.reason, r.keyId, r.count])).toEqual([
      ["198.51.100.1", "key_revoked", id, 4],
      ["198.51.100.2", "key_revoked", id, 1],
    ]);
    expect(audit[0]!.createdAt).toBe(at);
    expect(audit[0]!.lastSeenAt).toBe(at + 9);
    expect(audit[0]!.details).toEqual({ hour_start: hourOf(at) });
  });

  it("adds failures nobody owns into auth_failures, never into an org's audit trail", async () => {
    const source = `192.0.2.${Math.floor(Math.random() * 250)}-${Date.now()}`;
    const at = midHour();
    await consume([message({ failures: [failure(at, { source, count: 2, lastAt: at + 1 }), failure(at, { source, reason: "malformed_key" })] })]);
    await consume([message({ failures: [failure(at + 2, { source })] })]);
    const found = await db().select().from(authFailures).where(eq(authFailures.source, source)).orderBy(authFailures.reason);
    expect(found.map((r) => [r.reason, r.count, r.firstSeenAt, r.lastSeenAt])).toEqual([
      ["invalid_key", 3, at, at + 2],
      ["malformed_key", 1, at, at],
    ]);
    expect(await db().select().from(auditEvents).where(eq(auditEvents.source, source))).toEqual([]);
  });

  it("stores a disabled key's failures and the rest of their message (key_disabled is a recorded reason like the others)", async () => {
    const { id, orgId } = await seedKey();
    const hour = Date.UTC(2026, 0, 5, 10);
    const result = await consume([
      message({
        aggregates: [aggregate(id, orgId, hour)],
        failures: [failure(hour + 1, { source: "198.51.100.7", reason: "key_disabled", keyId: id, orgId, hour, count: 2, firstAt: hour + 1, lastAt: hour + 2 })],
      }),
    ]);
    expect(result.ackAll).toBe(true);
    const audit = await db().select().from(auditEvents).where(and(eq(auditEvents.orgId, orgId), eq(auditEvents.action, "auth.failed")));
    expect(audit.map((r) => [r.source, r.reason, r.keyId, r.count])).toEqual([["198.51.100.7", "key_disabled", id, 2]]);
    expect((await rows("usage_minutes", id)).map((r) => r.count)).toEqual([2]);
  });

  it("a redelivered failure message does not count twice", async () => {
    const source = `redelivery-${Date.now()}`;
    const sent = message({ failures: [failure(midHour(), { source, count: 5 })] });
    await consume([sent]);
    await consume([sent]);
    const found = await db().select().from(authFailures).where(eq(authFailures.source, source));
    expect(found.map((r) => r.count)).toEqual([5]);
  });
});

describe("usage consumer: bad input and faults", () => {
  it("drops messages of an older producer version or a malformed shape, with one log line, and stores the rest", async () => {
    const { id, orgId } = await seedKey();
    const minute = Math.floor(Date.now() / MINUTE) * MINUTE;
    const logged: unknown[][] = [];
    const original = console.error;
    console.error = (...args: unknown[]) => logged.push(args);
    let result;
    try {
      result = await consume([
        { calls: [{ keyId: id, orgId, method: "GET", path: "/v1", status: 200, latencyMs: 1, at: minute }], failures: [] }, // version 1
        { v: 3, id: "future", aggregates: [], recent: [], failures: [] },
        null,
        "garbage",
        message({ aggregates: [aggregate(id, orgId, minute, { histogram: [1, 2, 3] })] }), // wrong histogram length
        message({ aggregates: [aggregate(id, orgId, minute)] }),
      ]);
    } finally {
      console.error = original;
    }
    expect(result.ackAll).toBe(true);
    expect(result.retryBatch.retry).toBe(false);
    expect((await rows("usage_minutes", id)).map((r) => r.count)).toEqual([2]);
    expect(logged).toHaveLength(1);
    expect(String(logged[0]![0])).toContain("dropping 5 usage message(s)");
  });

  it("acks nothing and asks for a retry when D1 rejects the batch, and stores none of it", async () => {
    const { id, orgId } = await seedKey();
    const minute = Math.floor(Date.now() / MINUTE) * MINUTE;
    await env.DB.exec("CREATE TRIGGER IF NOT EXISTS usage_test_refuse BEFORE INSERT ON usage_recent WHEN NEW.path = '/refuse' BEGIN SELECT RAISE(ABORT, 'refused by test'); END");
    try {
      const good = message({ aggregates: [aggregate(id, orgId, minute)] });
      const bad = message({ recent: [recentCall(id, orgId, minute, "/refuse")] });
      const result = await consume([good, bad]);
      expect(result.ackAll).toBe(false);
      expect(result.explicitAcks).toEqual([]);
      expect(result.retryBatch.retry).toBe(true);
      expect(await rows("usage_minutes", id)).toEqual([]);
      // Retried after D1 recovers: stored once.
      await env.DB.exec("DROP TRIGGER usage_test_refuse");
      expect((await consume([good, bad])).ackAll).toBe(true);
      expect((await rows("usage_minutes", id)).map((r) => r.count)).toEqual([2]);
    } finally {
      await env.DB.exec("DROP TRIGGER IF EXISTS usage_test_refuse");
    }
  });
});
