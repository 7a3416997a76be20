import type { Command } from "commander";
import { type PagingOptions, resourceId, withPaging } from "../context.ts";
import { type Column, table } from "../render.ts";
import type { Runner } from "./runner.ts";

interface AuditEvent {
  created_at: string;
  last_seen_at: string;
  action: string;
  actor: string;
  key_id: string | null;
  count: number;
  source: string | null;
  reason: string | null;
  details: Record<string, unknown> | null;
}

const AUDIT_COLUMNS: Column<AuditEvent>[] = [
  { header: "TIME", value: (event) => event.created_at },
  { header: "ACTION", value: (event) => event.action },
  { header: "ACTOR", value: (event) => event.actor },
  { header: "KEY", value: (event) => event.key_id },
  // auth.failed rows stand for many failures: how many, from where, why.
  { header: "COUNT", value: (event) => event.count },
  { header: "DETAILS", value: (event) => (event.reason ? `${event.reason} from ${event.source ?? "?"}, last ${event.last_seen_at}` : event.details) },
];

export function registerAudit(program: Command, run: Runner): void {
  withPaging(program.command("audit").description("an org's audit trail, newest first").argument("<org>", "org id (org_…)", resourceId))
    .option("--action <list>", "key.created, key.updated, key.revoked, key.rotated, key.leaked, key.expiring, org.created, org.updated, auth.failed (comma-separated)")
    .option("--key <key>", "only events about this key id")
    .option("--since <date>", "from this date or ISO date-time")
    .option("--until <date>", "up to this date or ISO date-time (a bare date includes that whole day, UTC)")
    .addHelpText("after", "\nExamples:\n  keygate audit org_3kTMd9vW1qXb2LcY8nZp\n  keygate audit org_3kTMd9vW1qXb2LcY8nZp --action key.revoked,key.rotated --since 2026-01-01 --all")
    .action(
      run(async (context, org: string, options: PagingOptions & { action?: string; key?: string; since?: string; until?: string }) => {
        const query = { action: options.action, key_id: options.key, since: options.since, until: options.until };
        await context.list(`/orgs/${encodeURIComponent(org)}/audit`, query, options, (rows) => table(rows as AuditEvent[], AUDIT_COLUMNS, context.stdout));
      }),
    );
}
