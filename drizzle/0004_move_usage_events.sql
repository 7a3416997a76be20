-- Custom SQL migration file, put your code below! --
-- Ids of applied usage messages (src/store/usage.ts). WITHOUT ROWID, which drizzle's schema cannot express.
CREATE TABLE `usage_applied` (`id` text PRIMARY KEY NOT NULL, `applied_at` integer NOT NULL) WITHOUT ROWID;--> statement-breakpoint
-- Per-call rows become aggregates (SPEC §8): history is kept as hour and minute buckets (retention prunes
-- old minute rows on its first run), the latest 100 calls per key become the recent sample.
INSERT INTO `usage_hours` (`key_id`, `org_id`, `hour`, `status_class`, `count`, `max_ms`, `h0`, `h1`, `h2`, `h3`, `h4`, `h5`, `h6`, `h7`, `h8`, `h9`, `h10`, `h11`, `h12`, `h13`, `h14`, `h15`, `h16`, `h17`, `h18`, `h19`, `h20`, `h21`, `h22`, `h23`, `h24`)
SELECT key_id, org_id, at - at % 3600000, min(5, max(1, status / 100)), count(*), max(latency_ms),
  sum(CASE WHEN latency_ms <= 1 THEN 1 ELSE 0 END),
  sum(CASE WHEN latency_ms > 1 AND latency_ms <= 2 THEN 1 ELSE 0 END),
  sum(CASE WHEN latency_ms > 2 AND latency_ms <= 3 THEN 1 ELSE 0 END),
  sum(CASE WHEN latency_ms > 3 AND latency_ms <= 5 THEN 1 ELSE 0 END),
  sum(CASE WHEN latency_ms > 5 AND latency_ms <= 7 THEN 1 ELSE 0 END),
  sum(CASE WHEN latency_ms > 7 AND latency_ms <= 10 THEN 1 ELSE 0 END),
  sum(CASE WHEN latency_ms > 10 AND latency_ms <= 15 THEN 1 ELSE 0 END),
  sum(CASE WHEN latency_ms > 15 AND latency_ms <= 20 THEN 1 ELSE 0 END),
  sum(CASE WHEN latency_ms > 20 AND latency_ms <= 30 THEN 1 ELSE 0 END),
  sum(CASE WHEN latency_ms > 30 AND latency_ms <= 50 THEN 1 ELSE 0 END),
  sum(CASE WHEN latency_ms > 50 AND latency_ms <= 70 THEN 1 ELSE 0 END),
  sum(CASE WHEN latency_ms > 70 AND latency_ms <= 100 THEN 1 ELSE 0 END),
  sum(CASE WHEN latency_ms > 100 AND latency_ms <= 150 THEN 1 ELSE 0 END),
  sum(CASE WHEN latency_ms > 150 AND latency_ms <= 200 THEN 1 ELSE 0 END),
  sum(CASE WHEN latency_ms > 200 AND latency_ms <= 300 THEN 1 ELSE 0 END),
  sum(CASE WHEN latency_ms > 300 AND latency_ms <= 500 THEN 1 ELSE 0 END),
  sum(CASE WHEN latency_ms > 500 AND latency_ms <= 700 THEN 1 ELSE 0 END),
  sum(CASE WHEN latency_ms > 700 AND latency_ms <= 1000 THEN 1 ELSE 0 END),
  sum(CASE WHEN latency_ms > 1000 AND latency_ms <= 1500 THEN 1 ELSE 0 END),
  sum(CASE WHEN latency_ms > 1500 AND latency_ms <= 2000 THEN 1 ELSE 0 END),
  sum(CASE WHEN latency_ms > 2000 AND latency_ms <= 3000 THEN 1 ELSE 0 END),
  sum(CASE WHEN latency_ms > 3000 AND latency_ms <= 5000 THEN 1 ELSE 0 END),
  sum(CASE WHEN latency_ms > 5000 AND latency_ms <= 10000 THEN 1 ELSE 0 END),
  sum(CASE WHEN latency_ms > 10000 AND latency_ms <= 30000 THEN 1 ELSE 0 END),
  sum(CASE WHEN latency_ms > 30000 THEN 1 ELSE 0 END)
FROM usage_events GROUP BY 1, 2, 3, 4;--> statement-breakpoint
INSERT INTO `usage_minutes` (`key_id`, `org_id`, `minute`, `status_class`, `count`, `max_ms`, `h0`, `h1`, `h2`, `h3`, `h4`, `h5`, `h6`, `h7`, `h8`, `h9`, `h10`, `h11`, `h12`, `h13`, `h14`, `h15`, `h16`, `h17`, `h18`, `h19`, `h20`, `h21`, `h22`, `h23`, `h24`)
SELECT key_id, org_id, at - at % 60000, min(5, max(1, status / 100)), count(*), max(latency_ms),
  sum(CASE WHEN latency_ms <= 1 THEN 1 ELSE 0 END),
  sum(CASE WHEN latency_ms > 1 AND latency_ms <= 2 THEN 1 ELSE 0 END),
  sum(CASE WHEN latency_ms > 2 AND latency_ms <= 3 THEN 1 ELSE 0 END),
  sum(CASE WHEN latency_ms > 3 AND latency_ms <= 5 THEN 1 ELSE 0 END),
  sum(CASE WHEN latency_ms > 5 AND latency_ms <= 7 THEN 1 ELSE 0 END),
  sum(CASE WHEN latency_ms > 7 AND latency_ms <= 10 THEN 1 ELSE 0 END),
  sum(CASE WHEN latency_ms > 10 AND latency_ms <= 15 THEN 1 ELSE 0 END),
  sum(CASE WHEN latency_ms > 15 AND latency_ms <= 20 THEN 1 ELSE 0 END),
  sum(CASE WHEN latency_ms > 20 AND latency_ms <= 30 THEN 1 ELSE 0 END),
  sum(CASE WHEN latency_ms > 30 AND latency_ms <= 50 THEN 1 ELSE 0 END),
  sum(CASE WHEN latency_ms > 50 AND latency_ms <= 70 THEN 1 ELSE 0 END),
  sum(CASE WHEN latency_ms > 70 AND latency_ms <= 100 THEN 1 ELSE 0 END),
  sum(CASE WHEN latency_ms > 100 AND latency_ms <= 150 THEN 1 ELSE 0 END),
  sum(CASE WHEN latency_ms > 150 AND latency_ms <= 200 THEN 1 ELSE 0 END),
  sum(CASE WHEN latency_ms > 200 AND latency_ms <= 300 THEN 1 ELSE 0 END),
  sum(CASE WHEN latency_ms > 300 AND latency_ms <= 500 THEN 1 ELSE 0 END),
  sum(CASE WHEN latency_ms > 500 AND latency_ms <= 700 THEN 1 ELSE 0 END),
  sum(CASE WHEN latency_ms > 700 AND latency_ms <= 1000 THEN 1 ELSE 0 END),
  sum(CASE WHEN latency_ms > 1000 AND latency_ms <= 1500 THEN 1 ELSE 0 END),
  sum(CASE WHEN latency_ms > 1500 AND latency_ms <= 2000 THEN 1 ELSE 0 END),
  sum(CASE WHEN latency_ms > 2000 AND latency_ms <= 3000 THEN 1 ELSE 0 END),
  sum(CASE WHEN latency_ms > 3000 AND latency_ms <= 5000 THEN 1 ELSE 0 END),
  sum(CASE WHEN latency_ms > 5000 AND latency_ms <= 10000 THEN 1 ELSE 0 END),
  sum(CASE WHEN latency_ms > 10000 AND latency_ms <= 30000 THEN 1 ELSE 0 END),
  sum(CASE WHEN latency_ms > 30000 THEN 1 ELSE 0 END)
FROM usage_events GROUP BY 1, 2, 3, 4;--> statement-breakpoint
INSERT INTO `usage_recent` (`key_id`, `org_id`, `method`, `path`, `status`, `latency_ms`, `at`)
SELECT key_id, org_id, method, path, status, latency_ms, at FROM (
  SELECT *, row_number() OVER (PARTITION BY key_id ORDER BY at DESC, id DESC) AS n FROM usage_events
) WHERE n <= 100 ORDER BY at, id;
