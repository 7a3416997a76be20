// `npm run check-config [-- --env <name>] [--config <path>] [--deploy]`: validates the gateway config with the
// very parser the worker runs, so an error here is the error the worker would log. `npm start` runs the same
// validation (loadGatewayConfig) and refuses to start on an invalid config. `--deploy` is the strict pre-deploy
// check: placeholder ids, a loopback/private ORIGIN_URL and missing secrets become errors.
import { existsSync, readdirSync, statSync } from "node:fs";
import { isIP } from "node:net";
import { basename, dirname, join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { tsImport } from "tsx/esm/api";
import { experimental_readRawConfig, unstable_readConfig } from "wrangler";
import type { Config, RouteRule } from "../src/config.ts";
import type { KeygateError } from "../src/errors.ts";
import { readDevVars } from "./dev-vars.ts";

// src/ is Workers code with extensionless imports: its values are loaded through tsx at run time
// (tsImport below), its types are imported directly (type imports are erased when Node runs this file).
type ConfigModule = typeof import("../src/config.ts");

export const SECRETS = ["ADMIN_TOKEN", "UPSTASH_REDIS_REST_URL", "UPSTASH_REDIS_REST_TOKEN", "ORIGIN_SIGNING_SECRET", "CONSOLE_SESSION_SECRET", "WEBHOOK_SECRET"];
const PLACEHOLDER_ID = /^0+$|^0{8}-0{4}-0{4}-0{4}-0{12}$/;
/**
 * The worker's own prefix (src/management/app.ts MANAGEMENT_PREFIX; the console is under it too): answered before any
 * route rule. Up here, not beside its use: the CLI entry point below runs before later declarations are initialised.
 */
const RESERVED_PREFIXES = ["/_keygate"];

/** Where the report goes: the console for the CLI, a buffer in tests. */
export interface Output {
  log(line: string): void;
  error(line: string): void;
}

export interface LoadedConfig {
  configPath: string;
  envName: string | undefined;
  /** "wrangler.toml [env.production]", for messages. */
  where: string;
  wrangler: ReturnType<typeof unstable_readConfig>;
  /** Every var and local secret, as the worker would receive them. */
  vars: Record<string, unknown>;
  /** Which local secret came from where (the environment or a .dev.vars file). */
  secretSources: Record<string, string>;
  /** The .dev.vars file the local secrets came from, if any (.dev.vars.<env> first, as wrangler dev picks). */
  devVarsFile: string | undefined;
  config: Config;
  builtinScopes: Record<string, string>;
  /** Every var and secret the gateway reads (src/config.ts). */
  configVarNames: readonly string[];
}

export type ConfigLoad = { ok: true; loaded: LoadedConfig } | { ok: false; problems: string[] };

if (import.meta.main) {
  let args;
  try {
    ({ values: args } = parseArgs({
      options: {
        env: { type: "string", short: "e" },
        config: { type: "string", short: "c", default: "wrangler.toml" },
        deploy: { type: "boolean", default: false },
      },
    }));
  } catch (err) {
    console.error(`check-config: ${(err as Error).message}\nusage: npm run check-config -- [--config wrangler.toml] [--env <name>] [--deploy]`);
    process.exit(2);
  }
  process.exit(await checkConfig(args.config, args.env, console, { deploy: args.deploy }));
}

/**
 * Reads the wrangler config the way `wrangler dev`/`deploy` do, adds local secrets (the environment wins over
 * `.dev.vars.<env>`, then `.dev.vars`, as `npm start` does) and parses it with the worker's own parser.
 * Never throws for a bad config: `problems` are one-line messages, with no stack trace and none of the file's text.
 */
export async function loadGatewayConfig(
  configPath: string,
  envName: string | undefined,
  environment: NodeJS.ProcessEnv = process.env,
  /** Vars that win over everything (npm start's ORIGIN_URL for the demo origin). */
  overrides: Record<string, string> = {},
): Promise<ConfigLoad> {
  if (!existsSync(configPath)) return { ok: false, problems: [`${configPath} not found`] };
  // wrangler reads a directory as an empty config, which then "lacks TIERS": name the real mistake.
  if (statSync(configPath).isDirectory()) return { ok: false, problems: [`${configPath} is a directory; give the wrangler.toml file (--config ${join(configPath, "wrangler.toml")})`] };
  const where = `${configPath}${envName ? ` [env.${envName}]` : ""}`;

  let wrangler: ReturnType<typeof unstable_readConfig>;
  try {
    // wrangler only warns about an unknown --env and then uses the top level; before a deploy that is a typo to stop on.
    const { rawConfig } = experimental_readRawConfig({ config: configPath });
    if (envName && !(rawConfig.env && envName in rawConfig.env)) return { ok: false, problems: [`${configPath} has no [env.${envName}] section`] };
    // wrangler's own reader applies [env.*] exactly as deploy does (vars are not inherited from the top level).
    wrangler = unstable_readConfig({ config: configPath, env: envName });
  } catch (err) {
    return { ok: false, problems: wranglerErrorLines(err, configPath) };
  }

  const vars: Record<string, unknown> = { ...wrangler.vars };
  const secretSources: Record<string, string> = {};
  // Local secrets, the way `wrangler dev` finds them: .dev.vars.<env> first, else .dev.vars.
  const devVarsFile = [envName && `.dev.vars.${envName}`, ".dev.vars"]
    .filter((name): name is string => Boolean(name))
    .map((name) => join(dirname(configPath), name))
    .find((path) => existsSync(path));
  for (const [name, value] of Object.entries(devVarsFile ? (readDevVars(devVarsFile) ?? {}) : {})) {
    vars[name] = value;
    if (SECRETS.includes(name) && value !== "") secretSources[name] = basename(devVarsFile!);
  }
  for (const name of SECRETS) {
    const value = environment[name]?.trim();
    if (value) {
      vars[name] = value;
      secretSources[name] = "the environment";
    }
  }

  Object.assign(vars, overrides);

  const { parseConfig, displayField, BUILTIN_SCOPES, CONFIG_VAR_NAMES } = (await tsImport("../src/config.ts", import.meta.url)) as ConfigModule;
  try {
    const config = parseConfig(vars);
    return { ok: true, loaded: { configPath, envName, where, wrangler, vars, secretSources, devVarsFile, config, builtinScopes: BUILTIN_SCOPES, configVarNames: CONFIG_VAR_NAMES } };
  } catch (err) {
    // Not `instanceof`: tsImport loads src/ as its own module instance.
    const error = err as KeygateError;
    if (error?.code !== "gateway_misconfigured") throw err;
    return {
      ok: false,
      problems: [
        `${where}: ${error.code}`,
        `  ${error.message}`,
        ...(error.details ?? []).map((detail) => `  - ${displayField(detail.field)}: ${detail.message}`),
      ],
    };
  }
}

/**
 * A TOML syntax error as one line `file:line:column: message`; anything else wrangler refuses as its own
 * diagnostic list (which names fields, never values), without a stack trace.
 */
function wranglerErrorLines(err: unknown, configPath: string): string[] {
  const error = err as { text?: string; message?: string; location?: { file?: string; line?: number; column?: number } };
  if (error?.location?.line) {
    const { file = configPath, line, column = 0 } = error.location;
    // wrangler's locations have 1-based lines and 0-based columns (esbuild's convention).
    return [`${file}:${line}:${column + 1}: ${error.text ?? "invalid TOML"}`];
  }
  const lines = (error?.message ?? String(err)).split("\n").filter((line) => line.trim() !== "" && !/^\s+at /.test(line));
  return [`${configPath}: ${lines[0]}`, ...lines.slice(1).map((line) => `  ${line.trim()}`)];
}

/** Prints `config OK` and a summary, or what is wrong; returns the exit code. */
export async function checkConfig(
  configPath: string,
  envName: string | undefined,
  out: Output = console,
  options: { deploy?: boolean; environment?: NodeJS.ProcessEnv } = {},
): Promise<number> {
  const load = await loadGatewayConfig(configPath, envName, options.environment);
  if (!load.ok) {
    out.error(`config INVALID: ${load.problems[0]}`);
    for (const line of load.problems.slice(1)) out.error(line);
    return 1;
  }
  const { loaded } = load;
  const { config, where } = loaded;
  const operatorScopes = Object.keys(config.scopes).filter((scope) => !(scope in loaded.builtinScopes));
  const secrets = Object.entries(loaded.secretSources).map(([name, source]) => `${name} from ${source}`);
  out.log(`config OK (${where})`);
  out.log(`  origin         ${config.originUrl.href} (timeout ${config.originTimeoutMs} ms)`);
  out.log(`  key prefix     ${config.keyPrefix}`);
  out.log(
    `  key cache      isolate memory ${config.memoryCacheTtlMs} ms (MEMORY_CACHE_TTL_MS: a revocation reaches every location within about ${Math.ceil((2 * config.memoryCacheTtlMs) / 1000) + 60}s), unknown keys remembered ${config.negativeCacheTtlMs} ms (NEGATIVE_CACHE_TTL_MS)`,
  );
  out.log(`  rate limiter   ${config.rateLimitBackend}, failure mode ${config.rateLimitFailureMode}`);
  out.log(`  tiers          ${Object.entries(config.tiers).map(([name, tier]) => describeTier(name, tier)).join("; ")}`);
  out.log(`  scopes         ${operatorScopes.join(", ") || "(none)"} (+ built-in ${Object.keys(loaded.builtinScopes).join(", ")})`);
  out.log(
    `  origin signing ${config.originSigningSecret ? "on: X-Keygate-Signature v2 on every proxied request (ORIGIN_SIGNING_SECRET); verify it with keygate/origin" : "off (ORIGIN_SIGNING_SECRET is not set): the origin cannot tell the gateway's requests from anyone else's"}`,
  );
  out.log(`  signed bodies  up to ${config.signedBodyMaxBytes} bytes hashed into X-Keygate-Signature (SIGNED_BODY_MAX_BYTES; larger ones go unsigned)`);
  out.log(`  leaked keys    ${config.leakedKeyAction === "revoke" ? "revoked" : "flagged only (notify)"} when GitHub reports them (LEAKED_KEY_ACTION); GitHub's keys from ${config.githubKeysUrl}`);
  out.log(`  webhooks       ${config.webhook ? `${config.webhook.url} (signed with WEBHOOK_SECRET)` : "off (WEBHOOK_URL is not set)"}`);
  out.log(`  abuse limits   ${config.authFailureLimit.limit} failed authentications per source per ${config.authFailureLimit.windowMs / 1000}s (AUTH_FAILURE_LIMIT), ${config.managementRateLimit.limit} management calls per credential per ${config.managementRateLimit.windowMs / 1000}s (MANAGEMENT_RATE_LIMIT)`);
  out.log(
    `  usage          aggregated per isolate, sent every ${config.usageFlushIntervalMs} ms; kept: minutes ${days(config.usageMinuteRetentionMs)}, hours ${days(config.usageHourRetentionMs)}, failed auth ${days(config.authFailureRetentionMs)}; Analytics Engine ${analyticsEngine(loaded.wrangler)}`,
  );
  out.log(`  console        /_keygate/console, sign-ins last ${config.console.sessionTtlMs / 1000}s (CONSOLE_SESSION_TTL); session key from ${"CONSOLE_SESSION_SECRET" in loaded.secretSources ? "CONSOLE_SESSION_SECRET" : config.console.sessionSecret ? "ADMIN_TOKEN" : "nothing: set ADMIN_TOKEN or CONSOLE_SESSION_SECRET to enable sign-in"}`);
  out.log(`  cors           ${describeCors(config.cors)}`);
  out.log(`  key expiry     ${describeExpiry(config.expiryPolicy)}`);
  out.log(`  rotation       ${config.rotationReminderAfterMs === null ? "reminders off (ROTATION_REMINDER_AFTER = off)" : `key.rotation_due for active keys older than ${config.rotationReminderAfterMs / 86_400_000}d (ROTATION_REMINDER_AFTER)`}`);
  out.log(`  routes         ${config.routes.length} rule${config.routes.length === 1 ? "" : "s"} (unmatched requests answer 404 no_route)`);
  out.log(`  secrets        ${secrets.join(", ") || "none locally (no .dev.vars, none in the environment)"}; deployed secrets are set with \`wrangler secret put\``);
  const advice = configAdvice(loaded);
  const { notes } = advice;
  // With --deploy these are listed once, as errors, below (like the placeholders).
  const secretProblems = secretsInVars(loaded);
  const warnings = options.deploy ? advice.warnings.filter((warning) => !secretProblems.includes(warning)) : advice.warnings;
  for (const note of notes) out.log(`  note           ${note}`);
  if (!(loaded.wrangler.triggers?.crons ?? []).length) warnings.push("no [triggers] crons: usage and failed-auth retention never runs, so D1 keeps every aggregate");
  const placeholders = placeholderProblems(loaded.wrangler);
  if (!options.deploy) warnings.push(...placeholders);
  if (options.deploy && config.originUrl.protocol === "http:") {
    warnings.push(`ORIGIN_URL ${config.originUrl.origin} is plain http: requests (with their X-Keygate-* identity headers) cross the internet from Cloudflare to your origin unencrypted; use https`);
  }
  if (options.deploy && config.webhook && new URL(config.webhook.url).protocol === "http:") {
    warnings.push(`WEBHOOK_URL ${new URL(config.webhook.url).origin} is plain http: events (org and key ids, names) cross the internet unencrypted; use https`);
  }
  for (const warning of warnings) out.log(`  warning        ${warning}`);
  if (!options.deploy) return 0;

  const problems = [...placeholders, ...secretProblems, ...deployProblems(loaded)];
  if (problems.length > 0) {
    out.error(`config NOT READY TO DEPLOY (${where}):`);
    for (const problem of problems) out.error(`  - ${problem}`);
    return 1;
  }
  const envFlag = loaded.envName ? ` --env ${loaded.envName}` : "";
  out.log(`deploy check OK (${where}): the Worker must also hold the secrets ${requiredSecrets(config).join(", ")} (\`wrangler secret list${envFlag}\` shows them; it needs your account, so it is not checked here)`);
  return 0;
}

function describeExpiry(policy: Config["expiryPolicy"]): string {
  if (policy.maxLifetimeMs !== null) return `new keys must expire within ${policy.maxLifetimeMs / 86_400_000}d (MAX_KEY_LIFETIME)`;
  return policy.required ? "new keys must expire (REQUIRE_KEY_EXPIRY)" : "optional (REQUIRE_KEY_EXPIRY false, no MAX_KEY_LIFETIME)";
}

function describeCors(cors: Config["cors"]): string {
  if (!cors) return "off (no CORS var: browsers' preflights get 401 like any keyless request)";
  const methods = cors.methods ? cors.methods.join(", ") : "every routed method";
  const headers = cors.headers ? cors.headers.join(", ") : "Authorization, X-API-Key, Content-Type";
  return `${cors.origins.join(", ")} (${methods}; preflight cached ${cors.max_age}s${cors.credentials ? "; with credentials" : ""}), request headers ${headers}`;
}

/** What a valid CORS var may still get wrong. */
function corsWarnings(cors: Config["cors"]): string[] {
  if (!cors?.headers) return [];
  const allowed = cors.headers.map((name) => name.toLowerCase());
  if (allowed.includes("*") || allowed.includes("authorization") || allowed.includes("x-api-key")) return [];
  return ["CORS.headers replaces the default (Authorization, X-API-Key, Content-Type) and allows neither Authorization nor X-API-Key: browsers cannot send a key through the gateway; add one of them"];
}

/** "48h", "400d": retention periods as an operator writes them. */
function days(ms: number): string {
  if (ms % 86_400_000 === 0 && ms >= 7 * 86_400_000) return `${ms / 86_400_000}d`;
  return ms % 3_600_000 === 0 ? `${ms / 3_600_000}h` : `${ms} ms`;
}

function analyticsEngine(wrangler: ReturnType<typeof unstable_readConfig>): string {
  const dataset = (wrangler.analytics_engine_datasets ?? []).find((d: { binding: string; dataset?: string }) => d.binding === "USAGE_EVENTS");
  return dataset ? `USAGE_EVENTS -> ${dataset.dataset ?? "(dataset named after the binding)"}` : "off (no USAGE_EVENTS binding)";
}

/** What a valid config may still get wrong: `npm start` prints these too. */
export function configAdvice(loaded: LoadedConfig): { notes: string[]; warnings: string[] } {
  return { notes: routeNotes(loaded.config.routes), warnings: [...varNameWarnings(loaded), ...secretsInVars(loaded), ...paddedSecretWarnings(loaded), ...reservedRouteWarnings(loaded.config.routes), ...routeWarnings(loaded.config.routes), ...corsWarnings(loaded.config.cors), ...orgTierWarnings(loaded)] };
}

/** A misspelt var is not an error the worker can see (its env holds bindings too): it just keeps the default. */
function varNameWarnings(loaded: LoadedConfig): string[] {
  const known = loaded.configVarNames;
  const devVars = loaded.devVarsFile ? (readDevVars(loaded.devVarsFile) ?? {}) : {};
  const sources: Array<[string, string[]]> = [
    ["[vars]", Object.keys(loaded.wrangler.vars ?? {})],
    [basename(loaded.devVarsFile ?? ".dev.vars"), Object.keys(devVars)],
  ];
  return sources.flatMap(([where, names]) =>
    names
      .filter((name) => !known.includes(name))
      .map((name) => {
        const near = closestName(name, known);
        return `${where} ${name} is not a keygate setting and is ignored${near ? `; did you mean ${near}?` : ""} (README "Configuration" lists them)`;
      }),
  );
}

/** The nearest known name within 3 edits (or the same name in another case), else null. */
function closestName(name: string, known: readonly string[]): string | null {
  const upper = name.toUpperCase();
  let best: { name: string; distance: number } | null = null;
  for (const candidate of known) {
    const distance = editDistance(upper, candidate);
    if (distance <= 3 && (!best || distance < best.distance)) best = { name: candidate, distance };
  }
  return best?.name ?? null;
}

/** Levenshtein distance: a few lines for a "did you mean", not worth a dependency. */
function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) current[j] = Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    previous = current;
  }
  return previous[b.length]!;
}

/** Shared secrets with whitespace at either end: valid, but usually a copy-paste accident the other side does not share. */
function paddedSecretWarnings(loaded: LoadedConfig): string[] {
  return ["ORIGIN_SIGNING_SECRET", "CONSOLE_SESSION_SECRET"]
    .filter((name) => typeof loaded.vars[name] === "string" && (loaded.vars[name] as string).trim() !== loaded.vars[name])
    .map((name) => `${name} starts or ends with whitespace (from ${loaded.secretSources[name] ?? "[vars]"}): it is part of the secret, so the other side must hold it too; remove it unless that is meant`);
}

/** Secrets written into wrangler.toml's [vars] are committed with the repository and shown in the dashboard. */
export function secretsInVars(loaded: LoadedConfig): string[] {
  const envFlag = loaded.envName ? ` --env ${loaded.envName}` : "";
  return SECRETS.filter((name) => Object.hasOwn(loaded.wrangler.vars ?? {}, name)).map(
    (name) => `${name} is in [vars] of ${basename(loaded.configPath)}, where it is committed with the file and shown in the Cloudflare dashboard; remove it and use \`wrangler secret put ${name}${envFlag}\` (locally: .dev.vars)`,
  );
}

function describeTier(name: string, tier: Config["tiers"][string]): string {
  const single = tier.limits.length === 1 && tier.limits[0]!.name === "default";
  const windows = tier.limits.map((l) => `${single ? "" : `${l.name} `}${l.limit}/${l.window / 1000}s${l.mode === tier.mode ? "" : ` ${l.mode}`}`);
  const quota = tier.quota ? `, quota ${tier.quota.limit}/${tier.quota.period}` : "";
  const org = tier.org_limit ? `, org ${tier.org_limit}${tier.org_window === tier.limits[0]!.window ? "" : `/${tier.org_window / 1000}s`}` : "";
  return `${name} ${windows.join(" + ")}${quota}${org} (${tier.mode})`;
}

/** Not errors for local dev (which runs fine with them), but a deploy fails or is unusable. */
function placeholderProblems(wrangler: ReturnType<typeof unstable_readConfig>): string[] {
  const problems: string[] = [];
  for (const db of wrangler.d1_databases ?? []) {
    if (!db.database_id || PLACEHOLDER_ID.test(db.database_id)) problems.push(`D1 ${db.binding}: database_id is a placeholder; set it from \`wrangler d1 create\``);
  }
  for (const kv of wrangler.kv_namespaces ?? []) {
    if (!kv.id || PLACEHOLDER_ID.test(kv.id)) problems.push(`KV ${kv.binding}: id is a placeholder; set it from \`wrangler kv namespace create\``);
  }
  return problems;
}

function requiredSecrets(config: Config): string[] {
  return ["ADMIN_TOKEN", ...(config.rateLimitBackend === "upstash" ? ["UPSTASH_REDIS_REST_URL", "UPSTASH_REDIS_REST_TOKEN"] : [])];
}

/** --deploy only: what would make the deployed gateway unreachable, unusable or insecure. */
function deployProblems(loaded: LoadedConfig): string[] {
  const problems: string[] = [];
  const { config } = loaded;
  const host = config.originUrl.hostname;
  if (isLocalHost(host)) {
    problems.push(`ORIGIN_URL ${config.originUrl.origin} is a loopback or private address, which a deployed Worker cannot reach; set it to your API's public URL (e.g. https://origin.example.com)`);
  }
  // The keys that decide whether a leak report is genuine: fetched over plain http, anyone on the path can swap
  // them and have live keys revoked (LEAKED_KEY_ACTION=revoke) with reports they signed themselves.
  const keysUrl = new URL(config.githubKeysUrl);
  if (keysUrl.protocol !== "https:" || isLocalHost(keysUrl.hostname)) {
    problems.push(`GITHUB_SECRET_SCANNING_KEYS_URL ${keysUrl.origin} must be a public https URL (the default is GitHub's own): the keys it serves decide which leak reports revoke keys`);
  }
  if (config.webhook && isLocalHost(new URL(config.webhook.url).hostname)) {
    problems.push(`WEBHOOK_URL ${new URL(config.webhook.url).origin} is a loopback or private address, which a deployed Worker cannot reach; every event would be retried and dropped`);
  }
  const envFlag = loaded.envName ? ` --env ${loaded.envName}` : "";
  for (const name of requiredSecrets(config)) {
    if (!loaded.secretSources[name]) {
      problems.push(
        `secret ${name} is required but is neither in the environment nor in .dev.vars${loaded.envName ? `.${loaded.envName}` : ""}; the deployed Worker's secrets cannot be listed offline, so set it with \`wrangler secret put ${name}${envFlag}\` and export it here (or add it to that file) to pass this check`,
      );
    }
  }
  return problems;
}

/** Loopback, private, link-local or local-only names: fine for `npm start`, unreachable from Cloudflare. */
export function isLocalHost(hostname: string): boolean {
  const host = hostname.replace(/^\[|\]$/g, "").toLowerCase();
  if (host === "localhost" || /\.(localhost|local|internal|lan|home\.arpa)$/.test(host)) return true;
  if (isIP(host) === 4) {
    const [a, b] = host.split(".").map(Number) as [number, number];
    return a === 0 || a === 10 || a === 127 || (a === 169 && b === 254) || (a === 172 && b >= 16 && b <= 31) || (a === 192 && b === 168) || (a === 100 && b >= 64 && b <= 127);
  }
  if (isIP(host) === 6) {
    const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(host);
    if (mapped) return isLocalHost(mapped[1]!);
    return host === "::" || host === "::1" || /^f[cd]/.test(host) || /^fe[89ab]/.test(host);
  }
  return false;
}

function describeRule(rule: RouteRule, index: number): string {
  const methods = Array.isArray(rule.method) ? rule.method.join(",") : rule.method;
  return `ROUTES[${index + 1}] (${methods} ${rule.path})`;
}

/** `scopes = []` is easy to read as "public"; it is not. */
function routeNotes(routes: RouteRule[]): string[] {
  return routes.flatMap((rule, i) =>
    rule.scopes.length === 0 ? [`${describeRule(rule, i)} has scopes = []: any valid key may call it (it is not public: a request without a valid key is still refused)`] : [],
  );
}

/** A rule under a reserved prefix never sees a request: the management API or the console answers it. */
function reservedRouteWarnings(routes: RouteRule[]): string[] {
  return routes.flatMap((rule, i) => {
    const prefix = RESERVED_PREFIXES.find((reserved) => pathCovers(`${reserved}/*`, rule.path));
    return prefix ? [`${describeRule(rule, i)} is never used: ${prefix} belongs to keygate itself, which answers every path under it before any route rule`] : [];
  });
}

/** Rules an earlier rule makes dead: the first matching rule decides, so a later, narrower rule is never reached. */
function routeWarnings(routes: RouteRule[]): string[] {
  const warnings: string[] = [];
  routes.forEach((later, j) => {
    const earlier = routes.findIndex((rule, i) => i < j && methodsCover(rule.method, later.method) && pathCovers(rule.path, later.path));
    if (earlier >= 0) {
      warnings.push(`${describeRule(later, j)} is never used: ${describeRule(routes[earlier]!, earlier)} comes first and matches every request it would; move it above rule ${earlier + 1} if it should apply`);
    }
  });
  return warnings;
}

function methodsCover(earlier: string | string[], later: string | string[]): boolean {
  const a = new Set(Array.isArray(earlier) ? earlier : [earlier]);
  const b = Array.isArray(later) ? later : [later];
  if (a.has("*")) return true;
  return !b.includes("*") && b.every((method) => a.has(method));
}

/** Whether every path `later` matches is matched by `earlier` (route_pattern.ts semantics: `*` last, `:param` one segment). */
export function pathCovers(earlier: string, later: string): boolean {
  const a = earlier.split("/").filter(Boolean);
  const b = later.split("/").filter(Boolean);
  for (let i = 0; i < a.length; i++) {
    if (a[i] === "*") return true;
    if (i >= b.length || b[i] === "*") return false;
    if (a[i]!.startsWith(":")) continue;
    if (b[i]!.startsWith(":") || a[i] !== b[i]) return false;
  }
  return a.length === b.length;
}

/**
 * Orgs in the local D1 (npm start's `.wrangler/state`) whose tier is not in TIERS: their keys are refused at
 * run time. Only the local database can be read offline; the warning says how to check the deployed one.
 */
function orgTierWarnings(loaded: LoadedConfig): string[] {
  const dir = join(resolve(dirname(loaded.configPath)), ".wrangler", "state", "v3", "d1", "miniflare-D1DatabaseObject");
  if (!existsSync(dir)) return [];
  const usage = new Map<string, { orgs: number; overrides: number }>();
  for (const file of readdirSync(dir).filter((name) => name.endsWith(".sqlite"))) {
    for (const row of readOrgTiers(join(dir, file))) {
      const entry = usage.get(row.tier) ?? { orgs: 0, overrides: 0 };
      entry.orgs += row.orgs;
      entry.overrides += row.overrides;
      usage.set(row.tier, entry);
    }
  }
  const envFlag = loaded.envName ? ` --env ${loaded.envName}` : "";
  return [...usage]
    .filter(([tier]) => !(tier in loaded.config.tiers))
    .map(
      ([tier, { orgs, overrides }]) =>
        `tier "${tier}" is not in TIERS but ${orgs} org${orgs === 1 ? "" : "s"} in the local D1 use${orgs === 1 ? "s" : ""} it` +
        (overrides ? ` (${overrides} active key${overrides === 1 ? "" : "s"} with its own rate_limit among them)` : "") +
        `: their keys are refused (403 tier_unavailable) until the tier is back or the orgs move to another one. ` +
        `For the deployed database: wrangler d1 execute DB --remote${envFlag} --command "SELECT tier, COUNT(*) FROM orgs GROUP BY tier"`,
    );
}

interface OrgTierRow {
  tier: string;
  orgs: number;
  overrides: number;
}

function readOrgTiers(path: string): OrgTierRow[] {
  // node:sqlite announces itself as experimental on stderr; that line means nothing to an operator.
  const emitWarning = process.emitWarning;
  process.emitWarning = () => undefined;
  try {
    const { DatabaseSync } = process.getBuiltinModule("node:sqlite");
    const db = new DatabaseSync(path, { readOnly: true });
    try {
      const hasOrgs = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'orgs'").get();
      if (!hasOrgs) return [];
      return db
        .prepare(
          `SELECT o.tier AS tier, COUNT(DISTINCT o.id) AS orgs,
             (SELECT COUNT(*) FROM api_keys k JOIN orgs o2 ON o2.id = k.org_id WHERE o2.tier = o.tier AND k.rate_limit IS NOT NULL AND k.revoked_at IS NULL) AS overrides
           FROM orgs o GROUP BY o.tier`,
        )
        .all() as unknown as OrgTierRow[];
    } finally {
      db.close();
    }
  } catch {
    // A database another version of keygate wrote, or one being written right now: nothing to say about it.
    return [];
  } finally {
    process.emitWarning = emitWarning;
  }
}
