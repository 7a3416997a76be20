// Issue 10.7: D1 bytes and rows per 100,000 calls of one key spread over 10 minutes, before (one row
// per call, the pre-SPEC §8 layout) and after (aggregates), measured on a database of its own so
// nothing else writes to it meanwhile. Figures are printed; the assertion is the target.
import { applyD1Migrations, createExecutionContext, createMessageBatch } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { consumeUsage } from "../../src/usage/consumer";
import type { UsageMessage } from "../../src/store/usage_message";
import { usageRecorder } from "../../src/usage/record";

const CALLS = 100_000;
const MINUTES = 10;
const FLUSH_MS = 10_000;
const STEADY_PERIODS = 5;
const db = () => env.USAGE_STORAGE_DB;
const size = async () => (await db().prepare("SELECT 1").run()).meta.size_after;

describe("D1 growth per 100,000 calls of one key over 10 minutes", () => {
  it("stays under 1 KB per minute of traffic with aggregates (vs ~100+ bytes per call with per-call rows)", async () => {
    await applyD1Migrations(db(), env.TEST_MIGRATIONS);
    const start = Date.UTC(2026, 0, 1);
    const at = (i: number) => start + Math.floor((i * MINUTES * 60_000) / CALLS);
    const latency = (i: number) => (i * 7919) % 120; // 0-119 ms, spread over many buckets

    // Before: one row per call, the layout of drizzle/0000_init.sql.
    await db().exec("CREATE TABLE usage_events_before (id integer PRIMARY KEY AUTOINCREMENT NOT NULL, key_id text NOT NULL, org_id text NOT NULL, method text NOT NULL, path text NOT NULL, status integer NOT NULL, latency_ms integer NOT NULL, at integer NOT NULL)");
    await db().exec("CREATE INDEX usage_before_key_at_idx ON usage_events_before (key_id, at)");
    const beforeStart = await size();
    for (let i = 0; i < CALLS; i += 10_000) {
      const rows = Array.from({ length: 10_000 }, (_, j) => ["key_3kTMd9vW1qXb2LcY8nZp", "org_8hQ2vN5mXcR1tLp0WzKa", "GET", `/demo/items/${(i + j) % 500}`, 200, latency(i + j), at(i + j)]);
      await db().prepare("INSERT INTO usage_events_before (key_id, org_id, method, path, status, latency_ms, at) SELECT value->>0, value->>1, value->>2, value->>3, value->>4, value->>5, value->>6 FROM json_each(?)").bind(JSON.stringify(rows)).run();
    }
    const before = (await size()) - beforeStart;

    // After: the real recorder (flushing every 10 s of simulated traffic), real messages, the real consumer.
    // Twice: the first 10 minutes include one-time costs (the recent-call ring filling to its 100 rows,
    // each table's first pages); the next 10 minutes are what a busy key adds for as long as it is busy.
    const recorder = (sent: UsageMessage[]) =>
      usageRecorder({ sendBatch: async (m: Iterable<MessageSendRequest<UsageMessage>>) => void sent.push(...[...m].map((x) => structuredClone(x.body))) } as unknown as Queue<UsageMessage>, { flushIntervalMs: 20_000 });
    const ctx = createExecutionContext();
    async function traffic(from: number): Promise<{ bytes: number; messages: number }> {
      const sent: UsageMessage[] = [];
      const isolate = recorder(sent);
      let nextFlush = from + FLUSH_MS;
      for (let i = 0; i < CALLS; i++) {
        const t = from + (at(i) - start);
        if (t >= nextFlush) {
          await isolate.flush();
          nextFlush += FLUSH_MS;
        }
        isolate.call(ctx, { keyId: "key_3kTMd9vW1qXb2LcY8nZp", orgId: "org_8hQ2vN5mXcR1tLp0WzKa", method: "GET", path: `/demo/items/${i % 500}`, route: "/demo/*", status: i % 100 === 0 ? 404 : 200, latencyMs: latency(i), at: t });
      }
      await isolate.flush();
      const sizeBefore = await size();
      for (let i = 0; i < sent.length; i += 100) {
        const batch = createMessageBatch<unknown>("keygate-usage", sent.slice(i, i + 100).map((body) => ({ id: body.id, timestamp: new Date(), attempts: 1, body })));
        await consumeUsage(batch, { ...env, DB: db() });
      }
      return { bytes: (await size()) - sizeBefore, messages: sent.length };
    }
    const first = await traffic(start);
    // Steady state over five more 10-minute periods: D1 grows in 4 KB pages, so one period alone is too coarse.
    let steady = 0;
    for (let period = 1; period <= STEADY_PERIODS; period++) steady += (await traffic(start + period * MINUTES * 60_000)).bytes;
    const second = { bytes: steady / STEADY_PERIODS };
    const after = first.bytes;
    const sent = { length: first.messages };
    const rows: Record<string, number> = {};
    for (const table of ["usage_minutes", "usage_hours", "usage_recent", "usage_applied"]) {
      rows[table] = (await db().prepare(`SELECT count(*) AS n FROM ${table}`).first<{ n: number }>())!.n;
    }
    const calls = (await db().prepare("SELECT sum(count) AS n FROM usage_minutes").first<{ n: number }>())!.n;
    console.log(
      `usage storage, ${CALLS} calls of one key over ${MINUTES} min: before ${before} bytes (${(before / CALLS).toFixed(1)} B/call, ${CALLS} rows); ` +
        `after: first 10 min ${after} bytes, then ${second.bytes} bytes per further 10 min (${(second.bytes / MINUTES).toFixed(0)} B per minute of traffic), rows after 60 min ${JSON.stringify(rows)}, ${sent.length} queue messages per 10 min`,
    );
    expect(calls).toBe((1 + STEADY_PERIODS) * CALLS);
    expect(rows.usage_minutes).toBe((1 + STEADY_PERIODS) * MINUTES * 2); // 2xx and 4xx per minute
    expect(rows.usage_recent).toBe(100);
    expect(second.bytes / MINUTES).toBeLessThan(1024);
    expect(before / CALLS).toBeGreaterThan(50);
  }, 120_000);
});
