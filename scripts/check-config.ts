// `npm run check-config [-- --env <name>] [--config <path>]`: validates the gateway config before a deploy
// with the very parser the worker runs, so an error here is the error the worker would answer with.
import { existsSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { parseArgs } from "node:util";
import { tsImport } from "tsx/esm/api";
import { experimental_readRawConfig, unstable_readConfig } from "wrangler";
import { readDevVars } from "./dev-vars.ts";

/**
 * The slice of src/config.ts this script prints. src/ is Workers code (its types need the Workers
 * runtime), so it is loaded through tsx at run time rather than type-checked into this Node program.
 */
interface GatewayConfig {
  originUrl: URL;
  keyPrefix: string;
  originTimeoutMs: number;
  rateLimitBackend: string;
  rateLimitFailureMode: string;
  scopes: Record<string, string>;
  tiers: Record<string, { limit: number; window: number; org_limit?: number; mode: string }>;
  routes: unknown[];
  cors?: { origins: string[]; methods?: string[]; max_age: number; credentials: boolean };
  expiryPolicy: { required: boolean; maxLifetimeMs: number | null };
  rotationReminderAfterMs: number | null;
  memoryCacheTtlMs: number;
  signedBodyMaxBytes: number;
}
interface ConfigModule {
  parseConfig(vars: Record<string, unknown>): GatewayConfig;
  BUILTIN_SCOPES: Record<string, string>;
}
interface GatewayMisconfigured {
  code: string;
  message: string;
  details?: Array<{ field: string; message: string }>;
}

const SECRETS = ["ADMIN_TOKEN", "UPSTASH_REDIS_REST_URL", "UPSTASH_REDIS_REST_TOKEN", "ORIGIN_SIGNING_SECRET"];
const PLACEHOLDER_ID = /^0+$|^0{8}-0{4}-0{4}-0{4}-0{12}$/;

/** Where the report goes: the console for the CLI, a buffer in tests. */
export interface Output {
  log(line: string): void;
  error(line: string): void;
}

if (import.meta.main) {
  const { values: args } = parseArgs({
    options: {
      env: { type: "string", short: "e" },
      config: { type: "string", short: "c", default: "wrangler.toml" },
    },
  });
  process.exit(await checkConfig(args.config, args.env));
}

/** Prints `config OK` and a summary, or the worker's `gateway_misconfigured` message; returns the exit code. */
export async function checkConfig(configPath: string, envName: string | undefined, out: Output = console): Promise<number> {
  const fail = (message: string): number => {
    out.error(`config INVALID: ${message}`);
    return 1;
  };
  if (!existsSync(configPath)) return fail(`${configPath} not found`);
  const where = `${configPath}${envName ? ` [env.${envName}]` : ""}`;

  // wrangler only warns about an unknown --env and then uses the top level; before a deploy that is a typo to stop on.
  const { rawConfig } = experimental_readRawConfig({ config: configPath });
  if (envName && !(rawConfig.env && envName in rawConfig.env)) return fail(`${configPath} has no [env.${envName}] section`);

  // wrangler's own reader applies [env.*] exactly as deploy does (vars are not inherited from the top level).
  const wrangler = unstable_readConfig({ config: configPath, env: envName });
  const vars: Record<string, unknown> = { ...wrangler.vars };

  // Local secrets, the way `wrangler dev` finds them: .dev.vars.<env> first, else .dev.vars.
  const devVarsFile = [envName && `.dev.vars.${envName}`, ".dev.vars"]
    .filter((name): name is string => Boolean(name))
    .map((name) => join(dirname(configPath), name))
    .find((path) => existsSync(path));
  const devVars = devVarsFile ? (readDevVars(devVarsFile) ?? {}) : {};
  Object.assign(vars, devVars);

  const { parseConfig, BUILTIN_SCOPES } = (await tsImport("../src/config.ts", import.meta.url)) as ConfigModule;
  let config: GatewayConfig;
  try {
    config = parseConfig(vars);
  } catch (err) {
    const error = err as GatewayMisconfigured;
    if (error?.code !== "gateway_misconfigured") throw err;
    out.error(`config INVALID (${where}): ${error.code}`);
    out.error(`  ${error.message}`);
    for (const detail of error.details ?? []) out.error(`  - ${detail.field}: ${detail.message}`);
    return 1;
  }

  const operatorScopes = Object.keys(config.scopes).filter((scope) => !(scope in BUILTIN_SCOPES));
  const secrets = SECRETS.filter((name) => typeof vars[name] === "string" && vars[name] !== "");
  out.log(`config OK (${where})`);
  out.log(`  origin         ${config.originUrl.href} (timeout ${config.originTimeoutMs} ms)`);
  out.log(`  key prefix     ${config.keyPrefix}`);
  out.log(`  rate limiter   ${config.rateLimitBackend}, failure mode ${config.rateLimitFailureMode}`);
  out.log(`  tiers          ${Object.entries(config.tiers).map(([name, tier]) => describeTier(name, tier)).join("; ")}`);
  out.log(`  scopes         ${operatorScopes.join(", ") || "(none)"} (+ built-in ${Object.keys(BUILTIN_SCOPES).join(", ")})`);
  out.log(`  signed bodies  up to ${config.signedBodyMaxBytes} bytes hashed into X-Keygate-Signature (SIGNED_BODY_MAX_BYTES; larger ones go unsigned)`);
  out.log(`  cors           ${describeCors(config.cors)}`);
  out.log(`  key expiry     ${describeExpiry(config.expiryPolicy)}`);
  out.log(`  rotation       ${config.rotationReminderAfterMs === null ? "reminders off (ROTATION_REMINDER_AFTER = off)" : `key.rotation_due for active keys older than ${config.rotationReminderAfterMs / 86_400_000}d (ROTATION_REMINDER_AFTER)`}`);
  out.log(`  routes         ${config.routes.length} rule${config.routes.length === 1 ? "" : "s"} (unmatched requests answer 404 no_route)`);
  out.log(`  secrets        ${devVarsFile ? `${secrets.join(", ") || "none"} from ${basename(devVarsFile)}` : "no .dev.vars; deployed secrets are set with `wrangler secret put`"}`);
  for (const warning of deployWarnings(wrangler)) out.log(`  warning        ${warning}`);
  return 0;
}

function describeExpiry(policy: GatewayConfig["expiryPolicy"]): string {
  if (policy.maxLifetimeMs !== null) return `new keys must expire within ${policy.maxLifetimeMs / 86_400_000}d (MAX_KEY_LIFETIME)`;
  return policy.required ? "new keys must expire (REQUIRE_KEY_EXPIRY)" : "optional (REQUIRE_KEY_EXPIRY false, no MAX_KEY_LIFETIME)";
}

function describeCors(cors: GatewayConfig["cors"]): string {
  if (!cors) return "off (no CORS var: browsers' preflights get 401 like any keyless request)";
  const methods = cors.methods ? cors.methods.join(", ") : "every routed method";
  return `${cors.origins.join(", ")} (${methods}; preflight cached ${cors.max_age}s${cors.credentials ? "; with credentials" : ""})`;
}

function describeTier(name: string, tier: GatewayConfig["tiers"][string]): string {
  const org = tier.org_limit ? `, org ${tier.org_limit}` : "";
  return `${name} ${tier.limit}/${tier.window / 1000}s${org} (${tier.mode})`;
}

/** Not errors (local dev runs fine with them), but a deploy would fail or be unusable. */
function deployWarnings(wrangler: ReturnType<typeof unstable_readConfig>): string[] {
  const warnings: string[] = [];
  for (const db of wrangler.d1_databases ?? []) {
    if (!db.database_id || PLACEHOLDER_ID.test(db.database_id)) warnings.push(`D1 ${db.binding}: database_id is a placeholder; set it from \`wrangler d1 create\``);
  }
  for (const kv of wrangler.kv_namespaces ?? []) {
    if (!kv.id || PLACEHOLDER_ID.test(kv.id)) warnings.push(`KV ${kv.binding}: id is a placeholder; set it from \`wrangler kv namespace create\``);
  }
  return warnings;
}
