import { type Command, Option } from "commander";
import { type Context, jsonObject, type PagingOptions, pageNumber, perPage, requireFields, resourceId, wholeNumber, withPaging } from "../context.ts";
import { UsageError } from "../errors.ts";
import { type UsageReport, usageReport } from "../usage.ts";
import { type Column, record, table } from "../render.ts";
import type { Runner } from "./runner.ts";

interface Org {
  id: string;
  name: string;
  tier: string;
  max_active_keys: number;
  created_at: string;
  updated_at: string;
}

const ORG_COLUMNS: Column<Org>[] = [
  { header: "ID", value: (org) => org.id },
  { header: "NAME", value: (org) => org.name },
  { header: "TIER", value: (org) => org.tier },
  { header: "MAX KEYS", value: (org) => org.max_active_keys },
  { header: "CREATED", value: (org) => org.created_at },
];

/** The API's bounds on max_active_keys (MaxActiveKeys in src/management/orgs.ts). */
const maxActiveKeys = wholeNumber(1, 10_000);

const showOrg = (context: Context, org: unknown) => context.print(org, () => record(org as Record<string, unknown>, context.stdout));

export function registerOrgs(program: Command, run: Runner): void {
  const orgs = program.command("orgs").description("create, list, read and change orgs (operator token only, except get and usage)");

  withPaging(orgs.command("list").description("list orgs, newest first"))
    .option("--name <text>", "only names containing this (case-insensitive)")
    .option("--tier <tier>", "only this tier")
    .option("--sort <field>", "created_at, name or tier; prefix - for descending (default -created_at)")
    .addHelpText("after", "\nExamples:\n  keygate orgs list\n  keygate orgs list --tier pro --all --json")
    .action(
      run(async (context, options: PagingOptions & { name?: string; tier?: string; sort?: string }) => {
        const rows = { name: options.name, tier: options.tier, sort: options.sort };
        await context.list("/orgs", rows, options, (data) => table(data as Org[], ORG_COLUMNS, context.stdout));
      }),
    );

  orgs
    .command("create")
    .description("create an org")
    .argument("[name]", 'display name, 1-100 characters (required: here or "name" in --data)')
    .option("--tier <tier>", 'one of the gateway\'s TIERS, e.g. free (required: here or "tier" in --data)')
    .option("--max-active-keys <n>", "most active keys the org may hold, 1-10000 (default 25)", maxActiveKeys)
    .option("--data <json>", "the request body as JSON; the name argument and flags win over the same fields in it", jsonObject)
    .addHelpText("after", '\nExamples:\n  keygate orgs create "Acme Corp" --tier free\n  keygate orgs create --data \'{"name":"Acme Corp","tier":"free"}\'')
    .action(
      run(async (context, name: string | undefined, options: { tier?: string; maxActiveKeys?: number; data?: Record<string, unknown> }) => {
        const body = {
          ...options.data,
          ...(name === undefined ? {} : { name }),
          ...(options.tier === undefined ? {} : { tier: options.tier }),
          ...(options.maxActiveKeys === undefined ? {} : { max_active_keys: options.maxActiveKeys }),
        };
        requireFields(body, { name: "the name argument", tier: "--tier" });
        showOrg(context, (await context.api.post("/orgs", body)).data);
      }),
    );

  orgs
    .command("get")
    .description("show one org")
    .argument("<org>", "org id (org_…)", resourceId)
    .action(
      run(async (context, org: string) => {
        showOrg(context, (await context.api.get(`/orgs/${encodeURIComponent(org)}`)).data);
      }),
    );

  orgs
    .command("update")
    .description("rename an org, change its tier or its active-key limit")
    .argument("<org>", "org id (org_…)", resourceId)
    .option("--name <name>", "new display name")
    .option("--tier <tier>", "new tier; takes effect on the org's next request")
    .option("--max-active-keys <n>", "new active-key limit, 1-10000", maxActiveKeys)
    .option("--data <json>", "the request body as JSON; flags win over the same fields in it", jsonObject)
    .addHelpText("after", "\nExample:\n  keygate orgs update org_3kTMd9vW1qXb2LcY8nZp --tier pro")
    .action(
      run(async (context, org: string, options: { name?: string; tier?: string; maxActiveKeys?: number; data?: Record<string, unknown> }) => {
        const body = {
          ...options.data,
          ...(options.name === undefined ? {} : { name: options.name }),
          ...(options.tier === undefined ? {} : { tier: options.tier }),
          ...(options.maxActiveKeys === undefined ? {} : { max_active_keys: options.maxActiveKeys }),
        };
        if (Object.keys(body).length === 0) throw new UsageError("nothing to change: give --name, --tier, --max-active-keys or --data");
        showOrg(context, (await context.api.patch(`/orgs/${encodeURIComponent(org)}`, body)).data);
      }),
    );

  orgs
    .command("usage")
    .description("an org's traffic: totals, latency percentiles, a time series and per-key totals (busiest first)")
    .argument("<org>", "org id (org_…)", resourceId)
    .option("--since <date>", "from this date or ISO date-time (default: 1h, 24h or 30d before --until)")
    .option("--until <date>", "up to this date or ISO date-time (default: now; a bare date includes that whole day, UTC)")
    .addOption(new Option("--granularity <unit>", "bucket size of the time series (longest range: 48h, 31d, 400d)").choices(["minute", "hour", "day"]))
    .option("--page <n>", "page of per-key totals, 1-10000", pageNumber)
    .option("--per-page <n>", "keys per page, 1-100 (default 20)", perPage)
    .addHelpText("after", "\nExample:\n  keygate orgs usage org_3kTMd9vW1qXb2LcY8nZp --granularity day --since 2026-01-01")
    .action(
      run(async (context, org: string, options: { since?: string; until?: string; granularity?: string; page?: number; perPage?: number }) => {
        const query = { since: options.since, until: options.until, granularity: options.granularity, page: options.page, per_page: options.perPage };
        const data = (await context.api.get(`/orgs/${encodeURIComponent(org)}/usage`, query)).data as UsageReport;
        context.print(data, () => usageReport(data, context.stdout));
      }),
    );
}
