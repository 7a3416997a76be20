// drizzle/0004_move_usage_events.sql: per-call rows from before SPEC §8 become aggregates and the
// recent sample. Replayed here on a usage_events table shaped like 0000_init's, with its own key.
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { bucketOf } from "../../src/store/histogram";

const HOUR = 3_600_000;

describe("migration move_usage_events: usage_events into aggregates", () => {
  it("keeps every call's count, status class and latency bucket, by hour and minute, and the latest 100 calls per key", async () => {
    const migration = env.TEST_MIGRATIONS.find((m) => m.name.endsWith("_move_usage_events.sql"));
    expect(migration).toBeDefined();
    const keyId = `key_migrated${Date.now()}`;
    const base = Date.UTC(2025, 0, 1, 10);
    await env.DB.exec("CREATE TABLE IF NOT EXISTS usage_events (id integer PRIMARY KEY AUTOINCREMENT NOT NULL, key_id text NOT NULL, org_id text NOT NULL, method text NOT NULL, path text NOT NULL, status integer NOT NULL, latency_ms integer NOT NULL, at integer NOT NULL)");
    try {
      const calls = Array.from({ length: 150 }, (_, i) => [keyId, "org_migrated", "GET", `/m/${i}`, i % 10 === 0 ? 503 : 200, i % 50, base + i * 60_000]);
      await env.DB.prepare("INSERT INTO usage_events (key_id, org_id, method, path, status, latency_ms, at) SELECT value->>0, value->>1, value->>2, value->>3, value->>4, value->>5, value->>6 FROM json_each(?)").bind(JSON.stringify(calls)).run();
      // Its data moves (usage_applied, which it also creates, exists already here).
      for (const query of migration!.queries.filter((q) => q.includes("usage_events"))) await env.DB.prepare(query).run();

      const hours = await env.DB.prepare("SELECT hour, status_class, count, max_ms FROM usage_hours WHERE key_id = ? ORDER BY hour, status_class").bind(keyId).all();
      expect(hours.results).toEqual([
        { hour: base, status_class: 2, count: 54, max_ms: 49 },
        { hour: base, status_class: 5, count: 6, max_ms: 40 },
        { hour: base + HOUR, status_class: 2, count: 54, max_ms: 49 },
        { hour: base + HOUR, status_class: 5, count: 6, max_ms: 40 },
        { hour: base + 2 * HOUR, status_class: 2, count: 27, max_ms: 49 },
        { hour: base + 2 * HOUR, status_class: 5, count: 3, max_ms: 40 },
      ]);
      const minutes = await env.DB.prepare("SELECT count(*) AS rows, sum(count) AS calls FROM usage_minutes WHERE key_id = ?").bind(keyId).first();
      expect(minutes).toEqual({ rows: 150, calls: 150 });
      // Call 7 (7 ms) lands in the 7 ms bucket of its minute.
      const bucket = bucketOf(7);
      const seventh = await env.DB.prepare(`SELECT h${bucket} AS n FROM usage_minutes WHERE key_id = ? AND minute = ?`).bind(keyId, base + 7 * 60_000).first<{ n: number }>();
      expect(seventh?.n).toBe(1);
      const recent = await env.DB.prepare("SELECT min(at) AS oldest, count(*) AS n FROM usage_recent WHERE key_id = ?").bind(keyId).first();
      expect(recent).toEqual({ oldest: base + 50 * 60_000, n: 100 });
    } finally {
      await env.DB.exec("DROP TABLE IF EXISTS usage_events");
      await env.DB.prepare("DELETE FROM usage_hours WHERE key_id = ?").bind(keyId).run();
    }
  });
});
