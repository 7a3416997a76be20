// `npm start [-- --config <path>] [--env <name>]`: the whole gateway on this machine with no account and no
// network. Local D1, KV, Durable Objects and Queues come from `wrangler dev`'s local mode. The config is
// validated first (the check-config parser); the origin is ORIGIN_URL (environment, else the config), and the
// bundled demo origin only when the config still names the demo's own address.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { basename, dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import type { Config } from "../src/config.ts";
import { configAdvice, loadGatewayConfig, type LoadedConfig, SECRETS } from "./check-config.ts";
import { DEMO_ORIGIN_URL, startDemoOrigin } from "./demo-origin.ts";
import { readDevVars, resolveAdminToken, type AdminToken } from "./dev-vars.ts";
import { firstCall } from "./start-banner.ts";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
// Run wrangler's own entry on this very Node (22, from node_modules) rather than whatever `wrangler` is on PATH.
const WRANGLER = join(ROOT, "node_modules", "wrangler", "bin", "wrangler.js");
const HOST = "127.0.0.1";
const HEALTH_TIMEOUT_MS = 120_000;
const STOP_GRACE_MS = 5_000;
/** The drain waits up to 10 s for the queue consumer; a little more for the request itself. */
const DRAIN_TIMEOUT_MS = 15_000;
const LOCAL_USAGE_FLUSH_MS = 1_000;

// Declared before anything can fail: the catch below calls shutdown(), which reads these.
let current: ChildProcess | undefined;
let stopping = false;
/** Set once the gateway answers: stopping then first drains the usage it still holds. */
let running: { gateway: string; token: string } | undefined;
let shuttingDown: Promise<void> | undefined;
const cleanups: Array<() => Promise<void> | void> = [];

process.on("SIGINT", () => stop());
process.on("SIGTERM", () => stop());

/** A refusal the operator can act on: printed as is, no stack trace. */
class StartError extends Error {}

try {
  await main();
} catch (err) {
  const message = err instanceof StartError ? err.message : err instanceof Error ? err.message : String(err);
  console.error(`\nkeygate: ${message}`);
  await shutdown(1);
}

interface Origin {
  url: string;
  /** For the banner: where the URL came from. */
  source: string;
}

async function main(): Promise<void> {
  let args: { config: string; env?: string };
  try {
    ({ values: args } = parseArgs({ options: { config: { type: "string", short: "c", default: "wrangler.toml" }, env: { type: "string", short: "e" } } }) as { values: typeof args });
  } catch (err) {
    throw new StartError(`${(err as Error).message}\nusage: npm start -- [--config wrangler.toml] [--env <name>]`);
  }
  const configPath = resolve(args.config);
  const port = portFromEnv("PORT", 8787);

  // The operator token lives where wrangler dev looks for local secrets: beside the config.
  const devVarsPath = [args.env && `.dev.vars.${args.env}`, ".dev.vars"]
    .filter((name): name is string => Boolean(name))
    .map((name) => join(dirname(configPath), name))
    .find((path) => readDevVars(path) !== undefined) ?? join(dirname(configPath), ".dev.vars");
  const admin = resolveAdminToken(devVarsPath);

  // An ORIGIN_URL in the environment wins over the config's, and is validated with it.
  const originFromEnv = process.env.ORIGIN_URL?.trim() || undefined;
  const load = await loadGatewayConfig(configPath, args.env, { ...process.env, ADMIN_TOKEN: admin.token }, { ...(originFromEnv ? { ORIGIN_URL: originFromEnv } : {}), ...eventVarsFromEnv() });
  if (!load.ok) {
    const [first, ...rest] = load.problems;
    throw new StartError(`refusing to start: config INVALID: ${first}\n${rest.join("\n")}${rest.length ? "\n" : ""}(npm run check-config -- --config ${args.config}${args.env ? ` --env ${args.env}` : ""} prints the full report)`);
  }
  const loaded = load.loaded;
  // The same notes and warnings check-config prints (a rule with scopes = [], a dead rule, orgs on a missing tier).
  const advice = configAdvice(loaded);
  for (const note of advice.notes) console.log(`keygate: note: ${note}`);
  for (const warning of advice.warnings) console.warn(`keygate: warning: ${warning}`);
  await assertPortFree(port, "PORT");
  // The demo origin's port is checked with PORT, before anything is started or written, not after the migrations.
  const demoPort = usesDemoOrigin(loaded, originFromEnv) ? portFromEnv("DEMO_ORIGIN_PORT", Number(new URL(DEMO_ORIGIN_URL).port)) : undefined;
  if (demoPort !== undefined) {
    if (demoPort === port) throw new StartError(`PORT and DEMO_ORIGIN_PORT are both ${port}: the gateway and the demo origin need a port each`);
    await assertPortFree(demoPort, "DEMO_ORIGIN_PORT");
  }

  console.log("keygate: applying D1 migrations to the local database (.wrangler/state)");
  // Non-interactive: with no TTY on stdin and CI set, wrangler skips its confirmation prompt.
  const migrated = await runToEnd(wranglerProcess(["d1", "migrations", "apply", "DB", "--local", ...configArgs(loaded)], { CI: "true" }));
  if (stopping) return;
  if (migrated !== 0) throw new StartError(`wrangler d1 migrations apply failed (exit ${migrated})`);

  const origin = await startOrigin(loaded, originFromEnv, demoPort);
  if (stopping) return;

  const dev = wranglerProcess(
    [
      "dev",
      "--local",
      ...configArgs(loaded),
      "--ip", HOST,
      "--port", String(port),
      "--show-interactive-dev-session=false",
      // Secrets (and the origin) reach the worker through a private env file, never the command line, where
      // every local user could read them with `ps`.
      "--env-file", writeEnvFile(loaded, admin, origin),
    ],
    {
      // Without this, miniflare tries to download the Request.cf sample from workers.cloudflare.com on every start.
      CLOUDFLARE_CF_FETCH_ENABLED: process.env.CLOUDFLARE_CF_FETCH_ENABLED ?? "false",
    },
  );
  current = dev;
  dev.on("exit", (code, signal) => {
    if (stopping) return;
    console.error(`keygate: wrangler dev exited (${signal ?? `code ${code}`})`);
    void shutdown(code ?? 1);
  });

  const gateway = `http://${HOST}:${port}`;
  await waitForHealth(`${gateway}/_keygate/v1/health`, dev);
  if (stopping) return;
  running = { gateway, token: admin.token };
  printBanner(gateway, origin, admin, loaded.config);
}

/**
 * SPEC §10: the leak response and webhook vars, from this environment to the worker like ORIGIN_URL (they win
 * over the config's [vars]); WEBHOOK_SECRET comes with the other secrets (SECRETS).
 */
function eventVarsFromEnv(): Record<string, string> {
  const values: Record<string, string> = {};
  for (const name of ["WEBHOOK_URL", "GITHUB_SECRET_SCANNING_KEYS_URL", "LEAKED_KEY_ACTION"]) {
    const value = process.env[name]?.trim();
    if (value) values[name] = value;
  }
  return values;
}

function configArgs(loaded: LoadedConfig): string[] {
  return ["--config", loaded.configPath, ...(loaded.envName ? ["--env", loaded.envName] : [])];
}

/**
 * The origin: ORIGIN_URL from the environment; else the config's ORIGIN_URL; the bundled echo origin (on
 * DEMO_ORIGIN_PORT) only when the config still names the demo's own address.
 */
function usesDemoOrigin(loaded: LoadedConfig, fromEnv: string | undefined): boolean {
  return !fromEnv && loaded.config.originUrl.href === new URL(DEMO_ORIGIN_URL).href;
}

async function startOrigin(loaded: LoadedConfig, fromEnv: string | undefined, originPort: number | undefined): Promise<Origin> {
  const configured = loaded.config.originUrl.href;
  if (originPort === undefined) {
    const origin = { url: fromEnv ?? configured.replace(/\/$/, ""), source: fromEnv ? "ORIGIN_URL from the environment" : `ORIGIN_URL from ${basename(loaded.configPath)}` };
    console.log(`keygate: proxying to ${origin.url} (${origin.source})`);
    return origin;
  }
  const signingSecret = loaded.config.originSigningSecret;
  const demo = await startDemoOrigin(originPort, HOST, { signingSecret });
  cleanups.push(async () => {
    demo.server.closeAllConnections();
    await new Promise<void>((done) => demo.server.close(() => done()));
  });
  console.log(`keygate: demo origin listening on ${demo.url}${signingSecret ? " (verifying X-Keygate-Signature)" : ""}`);
  return { url: demo.url, source: "the bundled demo origin: set ORIGIN_URL in the config or the environment to use your API" };
}

/**
 * `wrangler dev --env-file` reads this instead of .dev.vars: the same local secrets (the .dev.vars file the
 * config check used, then the environment's, then the resolved operator token) plus the origin. The file sits in
 * a directory only this user can read and is removed on exit.
 */
function writeEnvFile(loaded: LoadedConfig, admin: AdminToken, origin: Origin): string {
  const values: Record<string, string> = { ...(loaded.devVarsFile ? readDevVars(loaded.devVarsFile) : {}) };
  for (const name of SECRETS) {
    const value = process.env[name]?.trim();
    if (value) values[name] = value;
  }
  Object.assign(values, eventVarsFromEnv());
  values.ADMIN_TOKEN = admin.token;
  values.ORIGIN_URL = origin.url;
  // Locally, usage leaves the isolate every second (production: wrangler.toml's 10 s), so a reload loses at most that.
  values.USAGE_FLUSH_INTERVAL_MS ??= process.env.USAGE_FLUSH_INTERVAL_MS?.trim() || String(LOCAL_USAGE_FLUSH_MS);
  const dir = mkdtempSync(join(tmpdir(), "keygate-start-"));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, ".env");
  writeFileSync(path, Object.entries(values).map(([name, value]) => `${name}=${dotenvValue(value)}\n`).join(""), { mode: 0o600 });
  return path;
}

/** dotenv quoting: bare when safe, else single quotes (literal), else double quotes with \n escapes. */
export function dotenvValue(value: string): string {
  if (/^[A-Za-z0-9_\-.:/@+=,~%]*$/.test(value)) return value;
  if (!value.includes("'") && !value.includes("\n")) return `'${value}'`;
  return `"${value.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n")}"`;
}

function wranglerProcess(args: string[], extraEnv: Record<string, string> = {}): ChildProcess {
  const child = spawn(process.execPath, [WRANGLER, ...args], {
    cwd: ROOT,
    env: { ...process.env, WRANGLER_SEND_METRICS: "false", ...extraEnv },
    // Its own process group, so stopping it also stops the workerd it spawns; no stdin, so it never prompts.
    detached: true,
    stdio: ["ignore", "inherit", "inherit"],
  });
  current = child;
  return child;
}

function runToEnd(child: ChildProcess): Promise<number> {
  return new Promise((resolve, reject) => {
    child.once("error", reject);
    child.once("exit", (code) => resolve(code ?? 1));
  });
}

async function waitForHealth(url: string, dev: ChildProcess): Promise<void> {
  const deadline = Date.now() + HEALTH_TIMEOUT_MS;
  while (!stopping && dev.exitCode === null && dev.signalCode === null) {
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(2_000) });
      if (res.ok) return;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new StartError(`the gateway did not answer ${url} within ${HEALTH_TIMEOUT_MS / 1000}s`);
    await new Promise((resolve) => setTimeout(resolve, 300));
  }
}

function stop(): void {
  if (stopping) return;
  stopping = true;
  console.log("\nkeygate: stopping");
  void drainUsage().then(() => shutdown(0));
}

/**
 * Usage is aggregated in the worker for a flush interval and then waits in the local queue for its
 * batch timeout; stopping workerd then would lose it. The drain endpoint sends the isolate's buffer
 * and answers once the consumer has stored everything sent in the last minute.
 */
async function drainUsage(): Promise<void> {
  if (!running) return;
  try {
    const res = await fetch(`${running.gateway}/_keygate/v1/usage/flush`, {
      method: "POST",
      headers: { authorization: `Bearer ${running.token}` },
      signal: AbortSignal.timeout(DRAIN_TIMEOUT_MS),
    });
    const body = (await res.json()) as { data?: { messages: number; stored: boolean } };
    if (res.ok && body.data?.stored) console.log(`keygate: usage saved (${body.data.messages} queue message${body.data.messages === 1 ? "" : "s"} drained)`);
    else console.error(`keygate: usage may be incomplete: the drain answered ${res.status}${body.data ? " before everything was stored" : ""}`);
  } catch (err) {
    console.error(`keygate: usage may be incomplete: the drain failed (${err instanceof Error ? err.message : String(err)})`);
  }
}

function shutdown(code: number): Promise<void> {
  shuttingDown ??= (async () => {
    stopping = true;
    if (current) await stopGroup(current);
    await Promise.allSettled(cleanups.map((cleanup) => cleanup()));
    process.exit(code);
  })();
  return shuttingDown;
}

/** wrangler tears workerd down on SIGTERM; whatever of its group is still there after the grace period is killed. */
async function stopGroup(child: ChildProcess): Promise<void> {
  const group = child.pid!;
  signalGroup(group, "SIGTERM");
  const deadline = Date.now() + STOP_GRACE_MS;
  while (groupAlive(group) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 100));
  if (groupAlive(group)) signalGroup(group, "SIGKILL");
}

function signalGroup(group: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-group, signal);
  } catch {
    // the group is already gone
  }
}

function groupAlive(group: number): boolean {
  try {
    process.kill(-group, 0);
    return true;
  } catch {
    return false;
  }
}

function portFromEnv(name: string, fallback: number): number {
  const raw = process.env[name]?.trim();
  if (!raw) return fallback;
  const port = Number(raw);
  if (!/^\d+$/.test(raw) || !Number.isInteger(port) || port < 1 || port > 65535) throw new StartError(`${name}=${raw} is not a port number (1-65535)`);
  return port;
}

/** A clear message beats wrangler's stack trace when the port is taken. */
function assertPortFree(port: number, name: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once("error", () => reject(new StartError(`${HOST}:${port} is already in use; set ${name} to a free port`)));
    probe.listen(port, HOST, () => probe.close(() => resolve()));
  });
}

function printBanner(gateway: string, origin: Origin, admin: AdminToken, config: Config): void {
  const api = `${gateway}/_keygate/v1`;
  const tokenLine = {
    environment: "from the ADMIN_TOKEN environment variable",
    "dev-vars": "from .dev.vars",
    created: `new, saved in .dev.vars: ${admin.token}`,
  }[admin.source];
  const hasJq = spawnSync("jq", ["--version"], { stdio: "ignore" }).status === 0;
  const extract = (field: string, prefix = "") =>
    hasJq ? `jq -r .data.${field}` : `sed -n 's/.*"${field}":"\\(${prefix}[^"]*\\)".*/\\1/p'`;
  const auth = `-H "Authorization: Bearer $ADMIN_TOKEN" -H "Content-Type: application/json"`;
  const setToken =
    admin.source === "environment"
      ? "# uses $ADMIN_TOKEN: export it in this shell with the value you started keygate with"
      : `ADMIN_TOKEN=${admin.token}`;
  const call = firstCall(config);
  const walkthrough = call
    ? `  Create an org and a key (the key is shown once), then call ROUTES[${call.rule}] with it:

    ${setToken}
    ORG=$(curl -s -X POST ${api}/orgs ${auth} -d '${JSON.stringify({ name: "Acme", tier: call.tier })}' | ${extract("id", "org_")})
    KEY=$(curl -s -X POST ${api}/orgs/$ORG/keys ${auth} -d '${JSON.stringify({ name: "demo", scopes: call.scopes, expires_in: "30d" })}' | ${extract("key")})
    curl -s${call.method === "GET" ? "" : ` -X ${call.method}`} ${gateway}${call.path} -H "Authorization: Bearer $KEY"`
    : `  ROUTES is empty, so every request through the gateway answers 404 no_route: add [[vars.ROUTES]] rules
  (README "Configuration"). The management API works: ${api}/docs`;
  console.log(`
  keygate is running
    gateway         ${gateway}
    docs            ${api}/docs  (OpenAPI: ${api}/openapi.json)
    origin          ${origin.url}  (${origin.source})
    operator token  ${tokenLine}

${walkthrough}

  Ctrl-C stops the gateway and everything it started.
`);
}
