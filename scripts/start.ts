// `npm start`: the whole gateway on this machine with no account and no network. Local D1, KV,
// Durable Objects and Queues come from `wrangler dev`'s local mode; the origin is the bundled demo.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { createServer } from "node:net";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { startDemoOrigin } from "./demo-origin.ts";
import { readDevVars, resolveAdminToken, type AdminToken } from "./dev-vars.ts";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
// Run wrangler's own entry on this very Node (22, from node_modules) rather than whatever `wrangler` is on PATH.
const WRANGLER = join(ROOT, "node_modules", "wrangler", "bin", "wrangler.js");
const HOST = "127.0.0.1";
const HEALTH_TIMEOUT_MS = 120_000;
const STOP_GRACE_MS = 5_000;
/** The drain waits up to 10 s for the queue consumer; a little more for the request itself. */
const DRAIN_TIMEOUT_MS = 15_000;
const LOCAL_USAGE_FLUSH_MS = 1_000;

let current: ChildProcess | undefined;
let stopping = false;
/** Set once the gateway answers: stopping then first drains the usage it still holds. */
let running: { gateway: string; token: string } | undefined;
const cleanups: Array<() => Promise<void>> = [];

process.on("SIGINT", () => stop());
process.on("SIGTERM", () => stop());

try {
  await main();
} catch (err) {
  console.error(`\nkeygate: ${err instanceof Error ? err.message : String(err)}`);
  await shutdown(1);
}

async function main(): Promise<void> {
  const port = portFromEnv("PORT", 8787);
  const admin = resolveAdminToken(join(ROOT, ".dev.vars"));
  await assertPortFree(port, "PORT");

  console.log("keygate: applying D1 migrations to the local database (.wrangler/state)");
  // Non-interactive: with no TTY on stdin and CI set, wrangler skips its confirmation prompt.
  const migrated = await runToEnd(wranglerProcess(["d1", "migrations", "apply", "DB", "--local"], { CI: "true" }));
  if (stopping) return;
  if (migrated !== 0) throw new Error(`wrangler d1 migrations apply failed (exit ${migrated})`);

  // The demo origin verifies what the worker signs, so it needs the worker's secret: from the environment
  // (then also handed to the worker, like ADMIN_TOKEN) or from .dev.vars (which wrangler dev reads itself).
  const signingSecretFromEnv = process.env.ORIGIN_SIGNING_SECRET?.trim() || undefined;
  const signingSecret = signingSecretFromEnv ?? (readDevVars(join(ROOT, ".dev.vars"))?.ORIGIN_SIGNING_SECRET?.trim() || undefined);
  const originUrl = await startOrigin(signingSecret);
  if (stopping) return;

  const dev = wranglerProcess([
    "dev",
    "--local",
    "--ip", HOST,
    "--port", String(port),
    "--show-interactive-dev-session=false",
    // Command-line vars win over wrangler.toml [vars] and .dev.vars. wrangler dev reads .dev.vars itself, so the
    // token goes on the command line (visible to `ps`) only when it came from the environment.
    "--var", `ORIGIN_URL:${originUrl}`,
    ...(admin.source === "environment" ? ["--var", `ADMIN_TOKEN:${admin.token}`] : []),
    ...(signingSecretFromEnv ? ["--var", `ORIGIN_SIGNING_SECRET:${signingSecretFromEnv}`] : []),
    // Locally, usage leaves the isolate every second (production: wrangler.toml's 10 s), so a reload loses at most that.
    ...(process.env.USAGE_FLUSH_INTERVAL_MS || readDevVars(join(ROOT, ".dev.vars"))?.USAGE_FLUSH_INTERVAL_MS ? [] : ["--var", `USAGE_FLUSH_INTERVAL_MS:${LOCAL_USAGE_FLUSH_MS}`]),
  ], {
    // Without this, miniflare tries to download the Request.cf sample from workers.cloudflare.com on every start.
    CLOUDFLARE_CF_FETCH_ENABLED: process.env.CLOUDFLARE_CF_FETCH_ENABLED ?? "false",
  });
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
  printBanner(gateway, originUrl, admin);
}

/** The operator's own API when ORIGIN_URL is set; otherwise the bundled echo origin on DEMO_ORIGIN_PORT. */
async function startOrigin(signingSecret: string | undefined): Promise<string> {
  const external = process.env.ORIGIN_URL?.trim();
  if (external) {
    console.log(`keygate: proxying to ORIGIN_URL=${external}`);
    return external;
  }
  const originPort = portFromEnv("DEMO_ORIGIN_PORT", 8788);
  await assertPortFree(originPort, "DEMO_ORIGIN_PORT");
  const origin = await startDemoOrigin(originPort, HOST, { signingSecret });
  cleanups.push(async () => {
    origin.server.closeAllConnections();
    await new Promise<void>((resolve) => origin.server.close(() => resolve()));
  });
  console.log(`keygate: demo origin listening on ${origin.url}${signingSecret ? " (verifying X-Keygate-Signature)" : ""}`);
  return origin.url;
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
    if (Date.now() > deadline) throw new Error(`the gateway did not answer ${url} within ${HEALTH_TIMEOUT_MS / 1000}s`);
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

let shuttingDown: Promise<void> | undefined;
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
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new Error(`${name}=${raw} is not a port number (1-65535)`);
  return port;
}

/** A clear message beats wrangler's stack trace when the port is taken. */
function assertPortFree(port: number, name: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once("error", () => reject(new Error(`${HOST}:${port} is already in use; set ${name} to a free port`)));
    probe.listen(port, HOST, () => probe.close(() => resolve()));
  });
}

function printBanner(gateway: string, originUrl: string, admin: AdminToken): void {
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
  console.log(`
  keygate is running
    gateway         ${gateway}
    docs            ${api}/docs  (OpenAPI: ${api}/openapi.json)
    origin          ${originUrl}
    operator token  ${tokenLine}

  Create an org and a key (the key is shown once), then call the demo API with it:

    ${setToken}
    ORG=$(curl -s -X POST ${api}/orgs ${auth} -d '{"name":"Acme","tier":"free"}' | ${extract("id", "org_")})
    KEY=$(curl -s -X POST ${api}/orgs/$ORG/keys ${auth} -d '{"name":"demo","scopes":["demo:read"],"expires_in":"30d"}' | ${extract("key")})
    curl -s ${gateway}/demo/hello -H "Authorization: Bearer $KEY"

  Ctrl-C stops the gateway and everything it started.
`);
}
