// Retention (SPEC §8) through the worker's real `scheduled` handler, with the Cron Trigger's
// scheduledTime as the injected clock. Rows are seeded in 2001 and the clock set shortly after, so
// the cutoffs fall long before anything other test files write: they are never touched.
import { createScheduledController } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import worker from "../../src/index";
import { pruneUsage } from "../../src/usage/retention";
import { loadConfig } from "../../src/config";

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const NOW = Date.UTC(2001, 6, 1);
let seq = 0;
const unique = (prefix: string) => `${prefix}_retention${Date.now()}${++seq}`;

async function insert(sql: string, ...params: unknown[]) {
  await env.DB.prepare(sql).bind(...params).run();
}
const minuteRow = (keyId: string, minute: number) => insert("INSERT INTO usage_minutes (key_id, org_id, minute, status_class, count, max_ms) VALUES (?, 'org_r', ?, 2, 1, 1)", keyId, minute);
const hourRow = (keyId: string, hour: number) => insert("INSERT INTO usage_hours (key_id, org_id, hour, status_class, count, max_ms) VALUES (?, 'org_r', ?, 2, 1, 1)", keyId, hour);
const recentRow = (keyId: string, at: number) => insert("INSERT INTO usage_recent (key_id, org_id, method, path, status, latency_ms, at) VALUES (?, 'org_r', 'GET', '/r', 200, 1, ?)", keyId, at);
const auditRow = (orgId: string, action: string, at: number) =>
  insert("INSERT INTO audit_events (id, org_id, action, actor, count, created_at, last_seen_at, aggregate_key) VALUES (?, ?, ?, 'operator', 1, ?, ?, ?)", unique("evt"), orgId, action, at, at, action === "auth.failed" ? unique("agg") : null);

async function column(sql: string, ...params: unknown[]): Promise<number[]> {
  const { results } = await env.DB.prepare(sql).bind(...params).all<{ v: number }>();
  return results.map((r) => r.v).sort((a, b) => a - b);
}

async function runCron(scheduledTime: number) {
  // Through the worker's own entry, as the Cron Trigger calls it.
  await worker.scheduled(createScheduledController({ scheduledTime, cron: "*/5 * * * *" }), env);
}

describe("retention by the Cron Trigger", () => {
  it("prunes minute rows after 48h, hour rows and recent calls after 400d, failure aggregates after 90d; keeps key lifecycle audit", async () => {
    const key = unique("key");
    const org = unique("org");
    const source = unique("src");
    await minuteRow(key, NOW - 49 * HOUR);
    await minuteRow(key, NOW - 47 * HOUR);
    await hourRow(key, NOW - 401 * DAY);
    await hourRow(key, NOW - 399 * DAY);
    await recentRow(key, NOW - 401 * DAY);
    await recentRow(key, NOW - DAY);
    await insert("INSERT INTO usage_applied (id, applied_at) VALUES (?, ?), (?, ?)", `${key}-old`, NOW - 5 * DAY, `${key}-new`, NOW - 3 * DAY);
    await insert("INSERT INTO auth_failures (bucket, source, reason, count, first_seen_at, last_seen_at) VALUES (?, ?, 'invalid_key', 1, ?, ?), (?, ?, 'invalid_key', 1, ?, ?)",
      `${source}|old`, source, NOW - 91 * DAY, NOW - 91 * DAY, `${source}|new`, source, NOW - 89 * DAY, NOW - 89 * DAY);
    await auditRow(org, "auth.failed", NOW - 91 * DAY);
    await auditRow(org, "auth.failed", NOW - 89 * DAY);
    await auditRow(org, "key.created", NOW - 1000 * DAY);

    await runCron(NOW);

    expect(await column("SELECT minute AS v FROM usage_minutes WHERE key_id = ?", key)).toEqual([NOW - 47 * HOUR]);
    expect(await column("SELECT hour AS v FROM usage_hours WHERE key_id = ?", key)).toEqual([NOW - 399 * DAY]);
    expect(await column("SELECT at AS v FROM usage_recent WHERE key_id = ?", key)).toEqual([NOW - DAY]);
    expect(await column("SELECT applied_at AS v FROM usage_applied WHERE id LIKE ?", `${key}-%`)).toEqual([NOW - 3 * DAY]);
    expect(await column("SELECT last_seen_at AS v FROM auth_failures WHERE source = ?", source)).toEqual([NOW - 89 * DAY]);
    const audit = await env.DB.prepare("SELECT action, last_seen_at FROM audit_events WHERE org_id = ? ORDER BY last_seen_at").bind(org).all();
    expect(audit.results).toEqual([
      { action: "key.created", last_seen_at: NOW - 1000 * DAY },
      { action: "auth.failed", last_seen_at: NOW - 89 * DAY },
    ]);
  });

  it("the retention periods come from config (USAGE_MINUTE_RETENTION etc.)", async () => {
    const key = unique("key");
    await minuteRow(key, NOW - 2 * HOUR);
    await minuteRow(key, NOW - 30 * 60_000);
    const settings = { ...loadConfig(env), usageMinuteRetentionMs: HOUR };
    await pruneUsage(env.DB, settings, NOW);
    expect(await column("SELECT minute AS v FROM usage_minutes WHERE key_id = ?", key)).toEqual([NOW - 30 * 60_000]);
  });

  it("works in bounded batches: one run issues at most its statement budget, the next run finishes the job", async () => {
    const key = unique("key");
    for (let i = 0; i < 45; i++) await minuteRow(key, NOW - 100 * HOUR - i * 60_000);
    const limits = { batchRows: 10, statements: 8 };
    const config = loadConfig(env);

    // Every table once (6 statements), then the minutes table twice more: 30 rows, budget spent.
    const first = await pruneUsage(env.DB, config, NOW, limits);
    expect(first).toMatchObject({ statements: 8, incomplete: true });
    expect(first.deleted.usage_minutes).toBe(30);
    expect(await column("SELECT count(*) AS v FROM usage_minutes WHERE key_id = ?", key)).toEqual([15]);

    const second = await pruneUsage(env.DB, config, NOW, limits);
    expect(second.incomplete).toBe(false);
    expect(second.statements).toBeLessThanOrEqual(8);
    expect(await column("SELECT count(*) AS v FROM usage_minutes WHERE key_id = ?", key)).toEqual([0]);
  });

  it("a budget smaller than the number of tables is raised to it, so no table is starved", async () => {
    const report = await pruneUsage(env.DB, loadConfig(env), NOW, { batchRows: 10, statements: 1 });
    expect(report.statements).toBe(6);
    expect(Object.keys(report.deleted)).toHaveLength(6);
  });
});
