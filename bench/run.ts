// `npm run bench [-- --quick]`: the gateway against a bare pass-through proxy, side by side.
//
// On loopback only: a minimal Node origin, a pass-through worker (the gateway's own proxy step,
// nothing else) and the gateway, each in its own workerd started by Miniflare from one set of
// options, each reached on a direct socket. The same autocannon load drives every scenario at
// concurrency 1 and 32, interleaved in short rounds so machine noise lands on all of them alike.
// Everything started here is stopped at the end, on error and on Ctrl-C.
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { tsImport } from "tsx/esm/api";
import { buildWorker } from "./build.ts";
import { measureColdKey, type ColdKeyResult } from "./cold.ts";
import { keyPool, runLoad, type KeyPool } from "./load.ts";
import { startOrigin } from "./origin.ts";
import { evaluateTargets, formatConsole, machineInfo, versions, writeReport, type BenchReport, type ScenarioRow, type UnknownKeyFlood } from "./report.ts";
import { applyMigrations, ManagementClient, type BenchKey } from "./seed.ts";
import { summarize, type WindowResult } from "./stats.ts";
import { startWorker, wranglerWorkerOptions, type RunningWorker } from "./targets.ts";
import { startUpstashStore, type UpstashStore } from "./upstash.ts";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const BENCH_DIR = join(ROOT, "bench");
const PATH = "/demo/bench";
const CONCURRENCY = [1, 32];
const SETTLE_MS = 250;

const { values: args } = parseArgs({
  options: {
    quick: { type: "boolean", default: false },
    rounds: { type: "string" },
    duration: { type: "string" },
    warmup: { type: "string" },
  },
});
const quick = args.quick ?? false;
const PROFILE = {
  rounds: Number(args.rounds ?? (quick ? 2 : 3)),
  windowSec: Number(args.duration ?? (quick ? 2 : 8)),
  warmupSec: Number(args.warmup ?? (quick ? 1 : 3)),
  coldSamples: quick ? 10 : 50,
  unknownKeys: 2000,
};

/** Limits no benchmark can reach, so every admitted request measures the limiter's cost, not its refusals. */
const BENCH_TIERS = {
  "bench-strict": { limit: 1_000_000_000, window: "60s", mode: "strict" },
  "bench-fast": { limit: 1_000_000_000, window: "60s", mode: "fast" },
};

interface Scenario {
  id: string;
  label: string;
  url: string;
  pool: KeyPool;
  expectedStatus: number;
  /** The key for the one-request sanity check, when it must not be one the scenario then measures. */
  probeKey?: string;
}

// ---- lifecycle: everything started is registered here and stopped in reverse order ----

const running: Array<{ name: string; stop: () => Promise<void> }> = [];
let stopping: Promise<void> | null = null;

function stopAll(): Promise<void> {
  stopping ??= (async () => {
    for (const resource of running.reverse()) {
      await resource.stop().catch((err: unknown) => console.error(`bench: stopping ${resource.name} failed: ${String(err)}`));
    }
  })();
  return stopping;
}

for (const [signal, code] of [["SIGINT", 130], ["SIGTERM", 143]] as const) {
  process.once(signal, () => {
    console.error(`\nbench: ${signal}, stopping everything it started`);
    void stopAll().finally(() => process.exit(code));
  });
}

const log = (message: string) => console.error(`bench: ${message}`);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

// ---- the run ----

try {
  await main();
} catch (err) {
  console.error(err instanceof Error ? (err.stack ?? err.message) : err);
  process.exitCode = 1;
} finally {
  await stopAll();
}

async function main(): Promise<void> {
  const startedAt = Date.now();
  const notes: string[] = [];
  const machine = machineInfo();
  log(`${quick ? "quick" : "full"} run: ${PROFILE.rounds} rounds × ${PROFILE.windowSec} s per scenario and concurrency`);

  const origin = await startOrigin();
  running.push({ name: "origin", stop: origin.stop });

  const base = wranglerWorkerOptions(join(ROOT, "wrangler.toml"));
  log("bundling the gateway and the pass-through with wrangler");
  const [gatewayBuild, passthroughBuild] = await Promise.all([
    buildWorker(ROOT, "gateway", "bench/workers/gateway.ts", { configPath: join(ROOT, "wrangler.toml") }),
    buildWorker(ROOT, "passthrough", "bench/workers/passthrough.ts", { runtime: { compatibilityDate: base.compatibilityDate as string, compatibilityFlags: base.compatibilityFlags as string[] } }),
  ]);
  const adminToken = `bench-admin-${randomBytes(16).toString("hex")}`;
  const wranglerVars = (base.bindings ?? {}) as Record<string, unknown>;
  const gatewayVars: Record<string, unknown> = {
    ...wranglerVars,
    ORIGIN_URL: origin.url,
    ADMIN_TOKEN: adminToken,
    RATE_LIMIT_BACKEND: "durable-object",
    TIERS: { ...(wranglerVars.TIERS as object), ...BENCH_TIERS },
  };
  // The worker's own parser: the benchmark uses the TTLs and prefix the gateway will run with.
  const { parseConfig } = (await tsImport("../src/config.ts", import.meta.url)) as {
    parseConfig(vars: Record<string, unknown>): { keyPrefix: string; negativeCacheTtlMs: number; originTimeoutMs: number };
  };
  const config = parseConfig(gatewayVars);
  const { generateKey } = (await tsImport("../src/keys/format.ts", import.meta.url)) as { generateKey(prefix: string): string };

  log("starting workerd: pass-through, gateway (Durable Object limiter)");
  const passthrough = await start({
    name: "passthrough",
    scriptPath: passthroughBuild.scriptPath,
    base,
    withBindings: false,
    bindings: { ORIGIN_URL: origin.url, ORIGIN_TIMEOUT_MS: String(config.originTimeoutMs) },
  });
  const gateway = await start({ name: "gateway", scriptPath: gatewayBuild.scriptPath, base, withBindings: true, bindings: gatewayVars, probeEntrypoint: "BenchProbe" });
  const doKeys = await seedGateway(gateway, adminToken);

  let upstashKeys: { strict: BenchKey; fast: BenchKey } | null = null;
  let upstashGateway: RunningWorker | null = null;
  let store: UpstashStore | null = null;
  try {
    log("starting redis-server and the Upstash REST bridge");
    store = await startUpstashStore();
    running.push({ name: "redis + bridge", stop: store.stop });
    upstashGateway = await start({
      name: "gateway",
      scriptPath: gatewayBuild.scriptPath,
      base,
      withBindings: true,
      bindings: { ...gatewayVars, RATE_LIMIT_BACKEND: "upstash", UPSTASH_REDIS_REST_URL: store.url, UPSTASH_REDIS_REST_TOKEN: store.token },
    });
    upstashKeys = await seedGateway(upstashGateway, adminToken);
  } catch (err) {
    notes.push(`Upstash scenarios not run: ${err instanceof Error ? err.message : String(err)}`);
    log(notes.at(-1)!);
  }

  const bearer = (key: string) => `Bearer ${key}`;
  const unknownPool = keyPool(Array.from({ length: PROFILE.unknownKeys }, () => bearer(generateKey(config.keyPrefix))));
  const malformedPool = keyPool(Array.from({ length: PROFILE.unknownKeys }, () => bearer(withWrongChecksum(generateKey(config.keyPrefix)))));
  // Every request carries a key, also those to the origin and the pass-through: same bytes on the wire.
  const fixedKey = keyPool([bearer(doKeys.fast.key)]);
  const scenarios: Scenario[] = [
    { id: "origin", label: "direct origin", url: origin.url, pool: fixedKey, expectedStatus: 200 },
    { id: "passthrough", label: "pass-through worker", url: passthrough.url, pool: fixedKey, expectedStatus: 200 },
    { id: "do-strict", label: "gateway, DO strict", url: gateway.url, pool: keyPool([bearer(doKeys.strict.key)]), expectedStatus: 200 },
    { id: "do-fast", label: "gateway, DO fast", url: gateway.url, pool: keyPool([bearer(doKeys.fast.key)]), expectedStatus: 200 },
    ...(upstashGateway && upstashKeys
      ? [
          { id: "upstash-strict", label: "gateway, Upstash strict", url: upstashGateway.url, pool: keyPool([bearer(upstashKeys.strict.key)]), expectedStatus: 200 },
          { id: "upstash-fast", label: "gateway, Upstash fast", url: upstashGateway.url, pool: keyPool([bearer(upstashKeys.fast.key)]), expectedStatus: 200 },
        ]
      : []),
    { id: "malformed", label: "malformed-key flood", url: gateway.url, pool: malformedPool, expectedStatus: 401 },
    // Its sanity check uses a key outside the pool, so every D1 read of the pool's keys is counted.
    { id: "unknown", label: "unknown-key flood", url: gateway.url, pool: unknownPool, expectedStatus: 401, probeKey: bearer(generateKey(config.keyPrefix)) },
  ];

  for (const scenario of scenarios) {
    const status = await probeStatus(scenario);
    if (status !== scenario.expectedStatus) {
      notes.push(`${scenario.label}: a single request answered ${status}, expected ${scenario.expectedStatus}; its figures measure that answer, not the intended path`);
      log(notes.at(-1)!);
    }
  }

  // The flood's D1 reads are counted from its first request (warm-up included) to its last.
  const flood = { reads: 0, firstAt: 0, lastAt: 0 };
  const windowOf = async (scenario: Scenario, connections: number, durationSec: number): Promise<WindowResult> => {
    const counting = scenario.id === "unknown";
    const before = counting ? await d1Reads(gateway) : 0;
    if (counting && flood.firstAt === 0) flood.firstAt = Date.now();
    const result = await runLoad({ url: scenario.url, path: PATH, connections, durationSec, pool: scenario.pool });
    if (counting) {
      flood.lastAt = Date.now();
      flood.reads += (await d1Reads(gateway)) - before;
    }
    await sleep(SETTLE_MS);
    return result;
  };

  log(`warm-up: ${PROFILE.warmupSec} s per scenario at c=${Math.max(...CONCURRENCY)}`);
  for (const scenario of scenarios) await windowOf(scenario, Math.max(...CONCURRENCY), PROFILE.warmupSec);

  const windows = new Map<string, WindowResult[]>();
  for (let round = 0; round < PROFILE.rounds; round++) {
    // Rotate the order each round so no scenario always follows the same neighbour.
    const order = scenarios.map((_, i) => scenarios[(i + round) % scenarios.length]!);
    for (const connections of round % 2 ? [...CONCURRENCY].reverse() : CONCURRENCY) {
      for (const scenario of order) {
        const result = await windowOf(scenario, connections, PROFILE.windowSec);
        const key = `${scenario.id}@${connections}`;
        windows.set(key, [...(windows.get(key) ?? []), result]);
        log(`round ${round + 1}/${PROFILE.rounds} c=${connections} ${scenario.label}: ${Math.round((result.requests * 1000) / result.durationMs)} req/s`);
      }
    }
  }

  let coldKey: ColdKeyResult | null = null;
  log(`cold key: ${PROFILE.coldSamples} first requests after a purge`);
  coldKey = await measureColdKey(gateway.url, PATH, doKeys.cold, new ManagementClient(gateway.url, adminToken), PROFILE.coldSamples);
  if ((coldKey.statuses[200] ?? 0) !== coldKey.samples * 2 + 1) notes.push(`cold key: unexpected statuses ${JSON.stringify(coldKey.statuses)}`);

  const rows: ScenarioRow[] = CONCURRENCY.flatMap((connections) =>
    scenarios.map((s) => ({ id: s.id, label: s.label, concurrency: connections, expectedStatus: s.expectedStatus, summary: summarize(windows.get(`${s.id}@${connections}`) ?? []) })),
  );
  const distinctKeys = Math.min(unknownPool.cursor, unknownPool.values.length);
  const spanMs = flood.lastAt - flood.firstAt;
  const unknownKeyFlood: UnknownKeyFlood = {
    distinctKeys,
    d1Reads: flood.reads,
    spanMs,
    negativeCacheTtlMs: config.negativeCacheTtlMs,
    allowedReads: distinctKeys * Math.max(1, Math.ceil(spanMs / config.negativeCacheTtlMs)),
  };

  const report: BenchReport = {
    date: new Date(startedAt).toISOString(),
    mode: quick ? "quick" : "full",
    settings: { rounds: PROFILE.rounds, windowSec: PROFILE.windowSec, warmupSec: PROFILE.warmupSec, concurrency: CONCURRENCY, loadGenerator: `autocannon (in-process, keep-alive, pipelining 1)` },
    machine,
    versions: versions(ROOT),
    rows,
    unknownKeyFlood,
    coldKey,
    targets: evaluateTargets(rows, unknownKeyFlood),
    notes,
  };
  console.log(formatConsole(report));
  await writeReport(BENCH_DIR, report);
  log(`wrote bench/results.json and bench/RESULTS.md in ${Math.round((Date.now() - startedAt) / 1000)} s`);
}

async function start(spec: Parameters<typeof startWorker>[0]): Promise<RunningWorker> {
  const worker = await startWorker(spec);
  running.push({ name: `workerd (${spec.name})`, stop: worker.stop });
  return worker;
}

/** Migrations, then as the operator: one org per consistency mode, each with a key for demo:read. */
async function seedGateway(gateway: RunningWorker, adminToken: string): Promise<{ strict: BenchKey; fast: BenchKey; cold: BenchKey }> {
  await applyMigrations(gateway.miniflare, join(ROOT, "drizzle"));
  const admin = new ManagementClient(gateway.url, adminToken);
  const strictOrg = await admin.createOrg("bench strict", "bench-strict");
  const fastOrg = await admin.createOrg("bench fast", "bench-fast");
  return {
    strict: await admin.createKey(strictOrg, "bench-strict", ["demo:read"]),
    fast: await admin.createKey(fastOrg, "bench-fast", ["demo:read"]),
    cold: await admin.createKey(fastOrg, "bench-cold", ["demo:read"]),
  };
}

async function d1Reads(gateway: RunningWorker): Promise<number> {
  const response = await fetch(`${gateway.probeUrl}/`);
  return ((await response.json()) as { d1Reads: number }).d1Reads;
}

async function probeStatus(scenario: Scenario): Promise<number> {
  const response = await fetch(scenario.url + PATH, { headers: { authorization: scenario.probeKey ?? scenario.pool.values[0]! } });
  await response.arrayBuffer();
  return response.status;
}

/** Same prefix, length and alphabet; only the checksum's last character changed, so the checksum is wrong. */
function withWrongChecksum(key: string): string {
  const last = key.at(-1);
  return key.slice(0, -1) + (last === "A" ? "B" : "A");
}
