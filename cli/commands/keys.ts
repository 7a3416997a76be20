import { createInterface } from "node:readline/promises";
import { type Command, InvalidArgumentError, Option } from "commander";
import { type Context, jsonObject, list, type PagingOptions, requireFields, resourceId, withPaging } from "../context.ts";
import { UsageError } from "../errors.ts";
import { type UsageReport, usageReport } from "../usage.ts";
import { type Column, record, table } from "../render.ts";
import type { Runner } from "./runner.ts";

interface Key {
  id: string;
  name: string;
  identifier: string;
  last4: string;
  scopes: string[];
  status: "active" | "disabled" | "expired" | "revoked";
  enabled?: boolean;
  allowed_ips?: string[];
  created_at: string;
  expires_at: string | null;
  last_used_at: string | null;
  key?: string;
}

const STATUS_STYLE = { active: "green", disabled: "yellow", expired: "yellow", revoked: "red" } as const;

const KEY_COLUMNS: Column<Key>[] = [
  { header: "ID", value: (key) => key.id },
  { header: "NAME", value: (key) => key.name },
  // What an operator can match against a key someone holds, never more of it.
  { header: "KEY", value: (key) => `${key.identifier}…${key.last4}` },
  { header: "SCOPES", value: (key) => key.scopes },
  { header: "STATUS", value: (key) => key.status, style: (key) => STATUS_STYLE[key.status] },
  { header: "CREATED", value: (key) => key.created_at },
  { header: "LAST USED", value: (key) => key.last_used_at },
  { header: "EXPIRES", value: (key) => key.expires_at },
];

const keyPath = (org: string, key?: string) => `/orgs/${encodeURIComponent(org)}/keys${key === undefined ? "" : `/${encodeURIComponent(key)}`}`;

/** For people: an empty allowlist says what it means rather than "-". */
const forPeople = (key: Omit<Key, "key">) => (key.allowed_ips?.length === 0 ? { ...key, allowed_ips: "anywhere" } : key);

function showKey(context: Context, data: unknown): void {
  const { key: _secret, ...shown } = data as Key;
  context.print(data, () => record(forPeople(shown), context.stdout, { status: STATUS_STYLE[(data as Key).status] }));
}

/** Create and rotate: the one time the full key exists outside the client that will use it. */
function showNewKey(context: Context, data: unknown): void {
  const { key, ...rest } = data as Key;
  context.print(data, () => `${record(forPeople(rest), context.stdout, { status: STATUS_STYLE[rest.status] })}\n\nkey  ${key}`);
  context.note("Store this key now: it is shown only this once and cannot be read again (rotate it if it is lost).");
}

/** `600/60s` -> {limit: 600, window: "60s"}. */
function rateLimit(value: string): { limit: number; window: string } {
  const match = /^(\d+)\/(\d+[smhd])$/.exec(value);
  if (!match || Number(match[1]) < 1) throw new InvalidArgumentError('must be <requests>/<window>, e.g. "600/60s" or "10000/1h"');
  return { limit: Number(match[1]), window: match[2]! };
}

/**
 * --data without its expiry when a flag gives one: expires_in and expires_at are one choice in two fields, and the
 * API refuses both at once, so the flag winning means the flag's expiry replaces either of --data's.
 */
function withoutExpiry(data: Record<string, unknown> | undefined, flag: string | undefined): Record<string, unknown> | undefined {
  if (data === undefined || flag === undefined) return data;
  const { expires_in: _in, expires_at: _at, ...rest } = data;
  return rest;
}

export function registerKeys(program: Command, run: Runner): void {
  const keys = program.command("keys").description("create, list, read, change, rotate and revoke an org's API keys");

  withPaging(keys.command("list").description("list an org's keys, newest first").argument("<org>", "org id (org_…)", resourceId))
    .option("--status <list>", "active, disabled, expired, revoked (comma-separated)")
    .option("--name <text>", "only names containing this (case-insensitive)")
    .option("--unused-since <date>", "keys never used, or last used before this date (2026-01-31 or an ISO date-time)")
    .option("--older-than <age>", 'keys at least this old, e.g. "90d": the ones due for rotation')
    .option("--sort <field>", "created_at, last_used_at, expires_at or name; prefix - for descending (default -created_at)")
    .addHelpText("after", "\nExamples:\n  keygate keys list org_3kTMd9vW1qXb2LcY8nZp\n  keygate keys list org_3kTMd9vW1qXb2LcY8nZp --status active --all --json")
    .action(
      run(async (context, org: string, options: PagingOptions & { status?: string; name?: string; unusedSince?: string; olderThan?: string; sort?: string }) => {
        const query = { status: options.status, name: options.name, unused_since: options.unusedSince, older_than: options.olderThan, sort: options.sort };
        await context.list(keyPath(org), query, options, (rows) => table(rows as Key[], KEY_COLUMNS, context.stdout));
      }),
    );

  keys
    .command("create")
    .description("create a key; the key itself is printed this once")
    .argument("<org>", "org id (org_…)", resourceId)
    .option("--name <name>", 'display name, 1-100 characters (required: here or "name" in --data)')
    .option("--scopes <list>", 'scopes from the gateway\'s catalogue, comma-separated or repeated (required: here or "scopes" in --data)', list)
    .addOption(new Option("--expires-in <preset>", "lifetime from now (default never; the gateway's REQUIRE_KEY_EXPIRY / MAX_KEY_LIFETIME may require one)").choices(["30d", "90d", "1y", "never"]).conflicts("expiresAt"))
    .option("--expires-at <date-time>", "exact expiry, ISO 8601 (e.g. 2027-01-31T00:00:00Z)")
    .option("--rate-limit <limit/window>", 'per-key limit instead of the tier\'s, e.g. "600/60s"', rateLimit)
    .option("--meta <json>", "free-form JSON object stored with the key", jsonObject)
    .option("--allowed-ips <list>", "addresses or CIDR ranges the key may be used from, comma-separated or repeated (default anywhere)", list)
    .option("--data <json>", "the request body as JSON; flags win over the same fields in it (--expires-in/--expires-at over both expiry fields)", jsonObject)
    .addHelpText(
      "after",
      '\nExamples:\n  keygate keys create org_3kTMd9vW1qXb2LcY8nZp --name "CI pipeline" --scopes demo:read,demo:write --expires-in 90d --allowed-ips 203.0.113.0/24\n  keygate keys create org_3kTMd9vW1qXb2LcY8nZp --data \'{"name":"CI pipeline","scopes":["demo:read"]}\'',
    )
    .action(
      run(async (context, org: string, options: { name?: string; scopes?: string[]; expiresIn?: string; expiresAt?: string; rateLimit?: object; meta?: object; allowedIps?: string[]; data?: Record<string, unknown> }) => {
        const body = {
          ...withoutExpiry(options.data, options.expiresIn ?? options.expiresAt),
          ...(options.name === undefined ? {} : { name: options.name }),
          ...(options.scopes === undefined ? {} : { scopes: options.scopes }),
          ...(options.expiresIn === undefined ? {} : { expires_in: options.expiresIn }),
          ...(options.expiresAt === undefined ? {} : { expires_at: options.expiresAt }),
          ...(options.rateLimit === undefined ? {} : { rate_limit: options.rateLimit }),
          ...(options.meta === undefined ? {} : { meta: options.meta }),
          ...(options.allowedIps === undefined ? {} : { allowed_ips: options.allowedIps }),
        };
        requireFields(body, { name: "--name", scopes: "--scopes" });
        showNewKey(context, (await context.api.post(keyPath(org), body)).data);
      }),
    );

  keys
    .command("get")
    .alias("show")
    .description("show one key (never the key itself): status, scopes, limits, allowed IPs")
    .argument("<org>", "org id (org_…)", resourceId)
    .argument("<key>", "key id (key_…)", resourceId)
    .action(
      run(async (context, org: string, key: string) => {
        showKey(context, (await context.api.get(keyPath(org, key))).data);
      }),
    );

  keys
    .command("update")
    .description("rename a key, change its scopes, rate limit, meta or allowed IPs, or disable/enable it; takes effect on its next request")
    .argument("<org>", "org id (org_…)", resourceId)
    .argument("<key>", "key id (key_…)", resourceId)
    .option("--name <name>", "new display name")
    .option("--scopes <list>", "new scopes (replace the old ones), comma-separated or repeated", list)
    .addOption(new Option("--rate-limit <limit/window>", 'new per-key limit, e.g. "600/60s"').argParser(rateLimit).conflicts("tierRateLimit"))
    .option("--tier-rate-limit", "drop the per-key limit: the tier's applies again")
    .option("--meta <json>", "new meta (a JSON object)", jsonObject)
    .addOption(new Option("--allowed-ips <list>", "replace the addresses/CIDR ranges the key may be used from (comma-separated or repeated)").argParser(list).conflicts("anyIp"))
    .option("--any-ip", "drop the allowlist: the key works from anywhere again (operator only)")
    .addOption(new Option("--disable", "suspend the key: 401 key_disabled until --enable").conflicts("enable"))
    .option("--enable", "restore a disabled key")
    .option("--data <json>", "the request body as JSON; flags win over the same fields in it", jsonObject)
    .addHelpText(
      "after",
      "\nExamples:\n  keygate keys update org_3kTMd9vW1qXb2LcY8nZp key_8hQ2vN5mXcR1tLp0WzKa --scopes demo:read --rate-limit 100/60s\n  keygate keys update org_3kTMd9vW1qXb2LcY8nZp key_8hQ2vN5mXcR1tLp0WzKa --allowed-ips 203.0.113.0/24,2001:db8::/32\n  keygate keys update org_3kTMd9vW1qXb2LcY8nZp key_8hQ2vN5mXcR1tLp0WzKa --disable",
    )
    .action(
      run(async (context, org: string, key: string, options: { name?: string; scopes?: string[]; rateLimit?: object; tierRateLimit?: boolean; meta?: object; allowedIps?: string[]; anyIp?: boolean; disable?: boolean; enable?: boolean; data?: object }) => {
        const body = {
          ...options.data,
          ...(options.name === undefined ? {} : { name: options.name }),
          ...(options.scopes === undefined ? {} : { scopes: options.scopes }),
          ...(options.rateLimit === undefined ? {} : { rate_limit: options.rateLimit }),
          ...(options.tierRateLimit ? { rate_limit: null } : {}),
          ...(options.meta === undefined ? {} : { meta: options.meta }),
          ...(options.allowedIps === undefined ? {} : { allowed_ips: options.allowedIps }),
          ...(options.anyIp ? { allowed_ips: [] } : {}),
          ...(options.disable ? { enabled: false } : {}),
          ...(options.enable ? { enabled: true } : {}),
        };
        if (Object.keys(body).length === 0) throw new UsageError("nothing to change: give --name, --scopes, --rate-limit, --tier-rate-limit, --meta, --allowed-ips, --any-ip, --disable, --enable or --data");
        showKey(context, (await context.api.patch(keyPath(org, key), body)).data);
      }),
    );

  keys
    .command("rotate")
    .description("replace a key with a new one (same name, scopes, limits); the new key is printed this once")
    .argument("<org>", "org id (org_…)", resourceId)
    .argument("<key>", "key id (key_…)", resourceId)
    .option("--grace-period <duration>", 'how long the old key keeps working, "0s" to "7d" (default 0s: revoked now)')
    .addOption(new Option("--expires-in <preset>", "the new key's lifetime (default: the old key's); needed when the gateway's expiry policy refuses the old one").choices(["30d", "90d", "1y", "never"]).conflicts("expiresAt"))
    .option("--expires-at <date-time>", "the new key's exact expiry, ISO 8601")
    .addHelpText("after", "\nExample:\n  keygate keys rotate org_3kTMd9vW1qXb2LcY8nZp key_8hQ2vN5mXcR1tLp0WzKa --grace-period 1h --expires-in 90d")
    .action(
      run(async (context, org: string, key: string, options: { gracePeriod?: string; expiresIn?: string; expiresAt?: string }) => {
        const body = {
          ...(options.gracePeriod === undefined ? {} : { grace_period: options.gracePeriod }),
          ...(options.expiresIn === undefined ? {} : { expires_in: options.expiresIn }),
          ...(options.expiresAt === undefined ? {} : { expires_at: options.expiresAt }),
        };
        showNewKey(context, (await context.api.post(`${keyPath(org, key)}/rotate`, body)).data);
      }),
    );

  keys
    .command("revoke")
    .description("revoke a key: immediate and permanent")
    .argument("<org>", "org id (org_…)", resourceId)
    .argument("<key>", "key id (key_…)", resourceId)
    .option("-y, --yes", "do not ask for confirmation (required when not run from a terminal)")
    .addHelpText("after", "\nExample:\n  keygate keys revoke org_3kTMd9vW1qXb2LcY8nZp key_8hQ2vN5mXcR1tLp0WzKa --yes")
    .action(
      run(async (context, org: string, key: string, options: { yes?: boolean }) => {
        if (!options.yes) await confirmRevoke(context, key);
        showKey(context, (await context.api.post(`${keyPath(org, key)}/revoke`)).data);
      }),
    );

  keys
    .command("limits")
    .description("every rate-limit policy of a key: limit, remaining, reset (spends nothing)")
    .argument("<org>", "org id (org_…)", resourceId)
    .argument("<key>", "key id (key_…)", resourceId)
    .action(
      run(async (context, org: string, key: string) => {
        context.print((await context.api.get(`${keyPath(org, key)}/limits`)).data);
      }),
    );

  keys
    .command("usage")
    .description("a key's traffic: totals by status class, latency percentiles, a time series and its recent calls")
    .argument("<org>", "org id (org_…)", resourceId)
    .argument("<key>", "key id (key_…)", resourceId)
    .option("--since <date>", "from this date or ISO date-time (default: 1h, 24h or 30d before --until)")
    .option("--until <date>", "up to this date or ISO date-time (default: now; a bare date includes that whole day, UTC)")
    .addOption(new Option("--granularity <unit>", "bucket size of the time series (longest range: 48h, 31d, 400d)").choices(["minute", "hour", "day"]))
    .addHelpText("after", "\nExample:\n  keygate keys usage org_3kTMd9vW1qXb2LcY8nZp key_8hQ2vN5mXcR1tLp0WzKa --since 2026-01-01 --granularity day")
    .action(
      run(async (context, org: string, key: string, options: { since?: string; until?: string; granularity?: string }) => {
        const query = { since: options.since, until: options.until, granularity: options.granularity };
        const data = (await context.api.get(`${keyPath(org, key)}/usage`, query)).data as UsageReport;
        context.print(data, () => usageReport(data, context.stdout));
      }),
    );
}

/** Revocation cannot be undone: ask at a terminal, and refuse to guess anywhere else. */
async function confirmRevoke(context: Context, key: string): Promise<void> {
  if (!context.stdin.isTTY) throw new UsageError(`revoking ${key} is permanent: pass --yes to confirm`);
  const prompt = createInterface({ input: context.stdin, output: context.stderr });
  try {
    // A no, like any answer but y: Ctrl-D or Ctrl-C (the question rejects, "Aborted with Ctrl+D"), and input that
    // ends (the question never settles: the process then ran out of work and exited 0 with nothing revoked).
    const closed = new Promise<string>((resolve) => prompt.once("close", () => resolve("")));
    const question = prompt.question(`Revoke ${key}? Every request with it fails from now on, and this cannot be undone. [y/N] `).catch(() => "");
    const answer = await Promise.race([question, closed]);
    if (!/^y(es)?$/i.test(answer.trim())) throw new UsageError("not revoked");
  } finally {
    prompt.close();
  }
}
