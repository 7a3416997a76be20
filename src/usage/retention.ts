/**
 * SPEC §8 retention, run by the Cron Trigger (`scheduled` in src/index.ts). Every table deletes
 * in batches of PRUNE_BATCH_ROWS, and one run issues at most PRUNE_STATEMENTS_PER_RUN statements
 * (under the free plan's 50 queries per invocation, each far under D1's 30 s query limit); what is
 * left is pruned by the next run. Key lifecycle audit events are never pruned: only the aggregated
 * `auth.failed` rows are.
 */
import type { Config } from "../config";

export const PRUNE_BATCH_ROWS = 5_000;
export const PRUNE_STATEMENTS_PER_RUN = 40;
/** Redeliveries happen within Queues' retention (4 days by default); applied ids are kept that long. */
export const APPLIED_RETENTION_MS = 4 * 86_400_000;

export type RetentionSettings = Pick<Config, "usageMinuteRetentionMs" | "usageHourRetentionMs" | "authFailureRetentionMs">;

interface Target {
  table: string;
  /** Deletes rows older than the cutoff; `?1` is the cutoff, `?2` the batch size. */
  sql: string;
  retentionMs: number;
}

function targets(settings: RetentionSettings): Target[] {
  const older = (table: string, column: string, extra = "") => `DELETE FROM ${table} WHERE rowid IN (SELECT rowid FROM ${table} WHERE ${extra}${column} < ?1 LIMIT ?2)`;
  return [
    { table: "usage_minutes", sql: older("usage_minutes", "minute"), retentionMs: settings.usageMinuteRetentionMs },
    { table: "usage_hours", sql: older("usage_hours", "hour"), retentionMs: settings.usageHourRetentionMs },
    { table: "usage_recent", sql: older("usage_recent", "at"), retentionMs: settings.usageHourRetentionMs },
    // WITHOUT ROWID and unindexed on purpose (it is written once per queue message): a scan, a few days of ids.
    { table: "usage_applied", sql: "DELETE FROM usage_applied WHERE id IN (SELECT id FROM usage_applied WHERE applied_at < ?1 LIMIT ?2)", retentionMs: APPLIED_RETENTION_MS },
    { table: "auth_failures", sql: older("auth_failures", "last_seen_at"), retentionMs: settings.authFailureRetentionMs },
    { table: "audit_events", sql: older("audit_events", "last_seen_at", "action = 'auth.failed' AND "), retentionMs: settings.authFailureRetentionMs },
  ];
}

export interface PruneReport {
  /** Rows deleted per table. */
  deleted: Record<string, number>;
  statements: number;
  /** True when the statement budget ran out with rows still due: the next run continues. */
  incomplete: boolean;
}

/** Deletes what is past retention as of `now` (injected: the cron's scheduledTime, or a test's clock). */
export async function pruneUsage(db: D1Database, settings: RetentionSettings, now: number, limits = { batchRows: PRUNE_BATCH_ROWS, statements: PRUNE_STATEMENTS_PER_RUN }): Promise<PruneReport> {
  const report: PruneReport = { deleted: {}, statements: 0, incomplete: false };
  let open = targets(settings);
  for (const t of open) report.deleted[t.table] = 0;
  // Each table gets at least one statement per run, or a tight budget would starve the last ones forever.
  const budget = Math.max(limits.statements, open.length);
  // Round-robin, so one huge table cannot starve the others of the run's budget.
  while (open.length > 0) {
    const next: Target[] = [];
    for (const target of open) {
      if (report.statements >= budget) {
        report.incomplete = true;
        return report;
      }
      report.statements++;
      const result = await db.prepare(target.sql).bind(now - target.retentionMs, limits.batchRows).run();
      const changes = result.meta.changes ?? 0;
      report.deleted[target.table]! += changes;
      if (changes >= limits.batchRows) next.push(target);
    }
    open = next;
  }
  return report;
}
