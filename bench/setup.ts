// Everything the benchmark measures, started and seeded: the origin, the pass-through, the gateway
// with the Durable Object limiter and, when redis-server is available, a second gateway on the
// Upstash backend; then the scenarios that drive them.
import { randomBytes } from "node:crypto";
import { copyFile } from "node:fs/promises";
import { join } from "node:path";
import { tsImport } from "tsx/esm/api";
import { buildWorker } from "./build.ts";
import { BENCH_CLIENT_IP, freshPool, keyPool, type KeyPool } from "./load.ts";
import { startOrigin } from "./origin.ts";
import { applyMigrations, type BenchKey, ManagementClient } from "./seed.ts";
import { startWorker, wranglerWorkerOptions, type RunningWorker, type WorkerSpec } from "./targets.ts";
import { startUpstashStore } from "./upstash.ts";
import type { TierInput } from "../src/ratelimit/tiers.ts";
import { freePort } from "../test/node/redis-server.ts";

export const PATH = "/demo/bench";

/** Limits no benchmark can reach, so every admitted request measures the limiter's cost, not its refusals. */
const BENCH_TIERS = {
  "bench-strict": { limit: 1_000_000_000, window: "60s", mode: "strict" },
  "bench-fast": { limit: 1_000_000_000, window: "60s", mode: "fast" },
  // SPEC §7's point: three policies cost the same single round trip as one.
  "bench-three": {
    limits: [
      { name: "burst", limit: 1_000_000_000, window: "1s" },
      { name: "default", limit: 1_000_000_000, window: "60s" },
    ],
    quota: { limit: 1_000_000_000, period: "month" },
    mode: "strict",
  },
} satisfies Record<string, TierInput>;

export interface Scenario {
  id: string;
  label: string;
  url: string;
  pool: KeyPool;
  expectedStatus: number;
  /** The workerd instance that answers it (none for the direct origin). */
  worker?: RunningWorker;
  /** The key for the one-request sanity check, when it must not be one the scenario then measures. */
  probeKey?: string;
}

export interface BenchEnvironment {
  scenarios: Scenario[];
  /** The Durable Object gateway: the floods and the cold key run against it. */
  gateway: RunningWorker;
  admin: ManagementClient;
  coldKey: BenchKey;
  negativeCacheTtlMs: number;
  notes: string[];
}

export interface SetUpOptions {
  root: string;
  /** Every started process is handed here at once, so it is stopped whatever happens next. */
  register(name: string, stop: () => Promise<void>): void;
  log(message: string): void;
  /** Aborted when the benchmark is stopped: kills a build in progress. */
  signal: AbortSignal;
  malformedKeys: number;
  /** For profiling runs: open every workerd's inspector (on a free port each). */
  inspect?: boolean;
  /**
   * A/B runs: more gateways, each bundled from another source tree (e.g. a worktree with one change
   * reverted), measured side by side with this one as `do-fast~<label>` and `do-strict~<label>`.
   */
  variants?: { label: string; root: string }[];
  /** Start and measure the floors (bench/workers/floor.ts); `--quick` leaves them out to stay under 2 minutes. */
  floors: boolean;
  /** Only these scenario ids (variants always run, and with them do-strict and do-fast); all when absent. */
  only?: string[];
}

export async function setUpBench(options: SetUpOptions): Promise<BenchEnvironment> {
  const { root, register, log } = options;
  const notes: string[] = [];
  const start = async (spec: WorkerSpec): Promise<RunningWorker> => {
    const worker = await startWorker({ ...spec, inspectorPort: options.inspect ? await freePort() : undefined });
    register(`workerd (${spec.name})`, worker.stop);
    return worker;
  };

  const base = wranglerWorkerOptions(join(root, "wrangler.toml"));
  // The usage consumer takes a batch as soon as it is sent rather than after max_batch_timeout (2 s):
  // after each window the benchmark flushes the gateway's usage and waits for the process to go quiet
  // (run.ts, settle), so each window is charged its own usage work. Batches stay what they are
  // (one per isolate flush, far under max_batch_size), so the work per request does not change.
  const consumers = base.queueConsumers as Record<string, { maxBatchTimeout?: number }> | undefined;
  if (consumers?.["keygate-usage"]) consumers["keygate-usage"] = { ...consumers["keygate-usage"], maxBatchTimeout: 0 };
  log("bundling the gateway and the pass-through with wrangler");
  const runtimeSettings = { compatibilityDate: base.compatibilityDate as string, compatibilityFlags: base.compatibilityFlags as string[] };
  const [gatewayBuild, passthroughBuild, floorBuild] = await Promise.all([
    buildWorker(root, "gateway", "bench/workers/gateway.ts", { configPath: join(root, "wrangler.toml") }, options.signal),
    buildWorker(root, "passthrough", "bench/workers/passthrough.ts", { runtime: runtimeSettings }, options.signal),
    buildWorker(root, "floor", "bench/workers/floor.ts", { runtime: runtimeSettings }, options.signal),
  ]);

  const origin = await startOrigin();
  register("origin", origin.stop);

  const adminToken = `bench-admin-${randomBytes(16).toString("hex")}`;
  const wranglerVars = (base.bindings ?? {}) as Record<string, unknown>;
  const gatewayVars: Record<string, unknown> = {
    ...wranglerVars,
    ORIGIN_URL: origin.url,
    ADMIN_TOKEN: adminToken,
    RATE_LIMIT_BACKEND: "durable-object",
    TIERS: { ...(wranglerVars.TIERS as object), ...BENCH_TIERS },
    // The floods come from one address and seeding makes many management calls: with the default
    // abuse limits (SPEC §9) they would measure the 429 refusal instead of the lookups they are about.
    AUTH_FAILURE_LIMIT: "1000000000/60s",
    MANAGEMENT_RATE_LIMIT: "1000000000/60s",
  };
  // The worker's own parser and key generator (src/ is Workers code with extensionless imports,
  // so it is loaded through tsx, as scripts/check-config.ts does): the figures use the TTLs and
  // prefix the gateway runs with, and the flood's keys are made exactly as real keys are.
  const { parseConfig } = (await tsImport("../src/config.ts", import.meta.url)) as typeof import("../src/config.ts");
  const { generateKey } = (await tsImport("../src/keys/format.ts", import.meta.url)) as typeof import("../src/keys/format.ts");
  const config = parseConfig(gatewayVars);

  log(`starting workerd: pass-through, gateway (Durable Object limiter)${options.floors ? ", the two floors" : ""}`);
  const passthrough = await start({
    name: "passthrough",
    scriptPath: passthroughBuild.scriptPath,
    base,
    withBindings: false,
    bindings: { ORIGIN_URL: origin.url, ORIGIN_TIMEOUT_MS: String(config.originTimeoutMs) },
  });
  const gatewaySpec: WorkerSpec = { name: "gateway", scriptPath: gatewayBuild.scriptPath, base, withBindings: true, bindings: gatewayVars, probeEntrypoint: "BenchProbe" };
  const gateway = await start(gatewaySpec);
  // The floors (bench/workers/floor.ts): a workerd each, so each one's CPU is its own.
  const floor = (name: string, rpc: boolean) =>
    start({
      name,
      scriptPath: floorBuild.scriptPath,
      base,
      withBindings: false,
      bindings: { ORIGIN_URL: origin.url, ORIGIN_TIMEOUT_MS: String(config.originTimeoutMs), FLOOR_RPC: rpc ? "1" : "0" },
      durableObjects: { FLOOR: { className: "FloorObject", useSQLite: true } },
    });
  const floors = options.floors ? [await floor("floor", false), await floor("floor-rpc", true)] : null;
  const admin = new ManagementClient(gateway.url, adminToken);
  const doKeys = await seedGateway(gateway, admin, root);
  // The floods get a gateway of their own (same bundle and options): locally D1 and KV are simulators
  // inside the gateway's workerd, and after a flood's tens of thousands of distinct lookups that
  // process served a warm key 26-46 µs/request dearer (A/B, 2026-12-05, two runs; the gateway
  // isolate's own JS time under the profiler within 4 µs, its GC +11 µs). Production's D1 and KV
  // are not in the worker's process; the warm-key figures measure the warm key.
  const floodGateway = await start(gatewaySpec);
  await applyMigrations(floodGateway.miniflare, join(root, "drizzle"));

  let upstash: { gateway: RunningWorker; keys: SeededKeys } | null = null;
  try {
    log("starting redis-server, the Upstash REST bridge and a gateway on the Upstash backend");
    const store = await startUpstashStore();
    register("redis-server + Upstash bridge", store.stop);
    const upstashGateway = await start({
      ...gatewaySpec,
      bindings: { ...gatewayVars, RATE_LIMIT_BACKEND: "upstash", UPSTASH_REDIS_REST_URL: store.url, UPSTASH_REDIS_REST_TOKEN: store.token },
    });
    upstash = { gateway: upstashGateway, keys: await seedGateway(upstashGateway, new ManagementClient(upstashGateway.url, adminToken), root) };
  } catch (err) {
    notes.push(`Upstash scenarios not run: ${err instanceof Error ? err.message : String(err)}`);
    log(notes.at(-1)!);
  }

  const bearer = (key: string) => `Bearer ${key}`;
  const pool = (count: number, make: () => string) => keyPool(Array.from({ length: count }, () => bearer(make())));
  // Every request carries a key, also those to the origin and the pass-through: same bytes on the wire.
  const fixedKey = keyPool([bearer(doKeys.fast.key)]);
  const scenarios: Scenario[] = [
    { id: "origin", label: "direct origin", url: origin.url, pool: fixedKey, expectedStatus: 200 },
    { id: "passthrough", label: "pass-through worker", url: passthrough.url, worker: passthrough, pool: fixedKey, expectedStatus: 200 },
    ...(floors
      ? [
          { id: "floor", label: "floor: pass-through + mandated headers", url: floors[0]!.url, worker: floors[0]!, pool: fixedKey, expectedStatus: 200 },
          { id: "floor-rpc", label: "floor + one empty DO round trip", url: floors[1]!.url, worker: floors[1]!, pool: fixedKey, expectedStatus: 200 },
        ]
      : []),
    { id: "do-strict", label: "gateway, DO strict", url: gateway.url, worker: gateway, pool: keyPool([bearer(doKeys.strict.key)]), expectedStatus: 200 },
    { id: "do-strict-3", label: "gateway, DO strict, 3 policies", url: gateway.url, worker: gateway, pool: keyPool([bearer(doKeys.three.key)]), expectedStatus: 200 },
    { id: "do-fast", label: "gateway, DO fast", url: gateway.url, worker: gateway, pool: keyPool([bearer(doKeys.fast.key)]), expectedStatus: 200 },
    { id: "do-fast-allowlist", label: "gateway, DO fast, 50-entry allowed_ips", url: gateway.url, worker: gateway, pool: keyPool([bearer(doKeys.allowlisted.key)]), expectedStatus: 200 },
    ...(upstash
      ? [
          { id: "upstash-strict", label: "gateway, Upstash strict", url: upstash.gateway.url, worker: upstash.gateway, pool: keyPool([bearer(upstash.keys.strict.key)]), expectedStatus: 200 },
          { id: "upstash-fast", label: "gateway, Upstash fast", url: upstash.gateway.url, worker: upstash.gateway, pool: keyPool([bearer(upstash.keys.fast.key)]), expectedStatus: 200 },
        ]
      : []),
    {
      id: "malformed",
      label: "malformed-key flood",
      url: floodGateway.url,
      worker: floodGateway,
      pool: pool(options.malformedKeys, () => withWrongChecksum(generateKey(config.keyPrefix))),
      expectedStatus: 401,
    },
    {
      id: "unknown",
      label: "unknown-key flood (no key repeats)",
      url: floodGateway.url,
      worker: floodGateway,
      // Every request a key never seen before, made as real keys are: the negative cache cannot help,
      // so this is what an attacker minting keys costs (a cycling pool would flatter the gateway).
      pool: freshPool(() => bearer(generateKey(config.keyPrefix))),
      expectedStatus: 401,
      // Checked with a key outside the flood, so every storage operation of the flood's keys is counted.
      probeKey: bearer(generateKey(config.keyPrefix)),
    },
  ];

  for (const variant of options.variants ?? []) {
    log(`variant ${variant.label}: bundling the gateway from ${variant.root}`);
    const build = await buildWorker(variant.root, `gateway-${variant.label}`, "bench/workers/gateway.ts", { configPath: join(variant.root, "wrangler.toml") }, options.signal);
    // workerd reads scripts from under the root it was given: the bundle moves into this checkout.
    const scriptPath = join(root, "bench", ".tmp", `gateway-${variant.label}.js`);
    await copyFile(build.scriptPath, scriptPath);
    const worker = await start({ ...gatewaySpec, scriptPath });
    const keys = await seedGateway(worker, new ManagementClient(worker.url, adminToken), root);
    scenarios.push(
      { id: `do-strict~${variant.label}`, label: `gateway, DO strict [${variant.label}]`, url: worker.url, worker, pool: keyPool([bearer(keys.strict.key)]), expectedStatus: 200 },
      { id: `do-fast~${variant.label}`, label: `gateway, DO fast [${variant.label}]`, url: worker.url, worker, pool: keyPool([bearer(keys.fast.key)]), expectedStatus: 200 },
    );
  }
  if (options.only) {
    // A variant's workerd serves do-strict and do-fast, so this tree's gateway serves both too: a
    // gateway process with only do-fast measured +0.12..0.14 ms added p50 at c=1 where the same code
    // as a variant (serving both) measured +0.08..0.11 (4 runs, 2026-12-05); with both, the two agree.
    const keep = new Set([...options.only, ...(options.variants?.length ? ["do-strict", "do-fast"] : [])]);
    for (let i = scenarios.length - 1; i >= 0; i--) if (!keep.has(scenarios[i]!.id) && !scenarios[i]!.id.includes("~")) scenarios.splice(i, 1);
  }

  for (const scenario of scenarios) {
    const status = await probeStatus(scenario);
    if (status !== scenario.expectedStatus) {
      notes.push(`${scenario.label}: a single request answered ${status}, expected ${scenario.expectedStatus}; its figures measure that answer, not the intended path`);
      log(notes.at(-1)!);
    }
  }
  return { scenarios, gateway, admin, coldKey: doKeys.cold, negativeCacheTtlMs: config.negativeCacheTtlMs, notes };
}

interface SeededKeys {
  strict: BenchKey;
  three: BenchKey;
  fast: BenchKey;
  cold: BenchKey;
  /** Fast mode with the longest allowlist a key may have, the client's address last: the worst case scan. */
  allowlisted: BenchKey;
}

/** 49 ranges that do not hold the client, then the client's address: every request checks all 50. */
const FIFTY_ENTRY_ALLOWLIST = [...Array.from({ length: 25 }, (_, i) => `198.51.${i}.0/24`), ...Array.from({ length: 24 }, (_, i) => `2001:db8:${i.toString(16)}::/48`), BENCH_CLIENT_IP];

/** Migrations, then as the operator: one org per consistency mode, each with a key for demo:read. */
async function seedGateway(gateway: RunningWorker, admin: ManagementClient, root: string): Promise<SeededKeys> {
  await applyMigrations(gateway.miniflare, join(root, "drizzle"));
  const strictOrg = await admin.createOrg("bench strict", "bench-strict");
  const fastOrg = await admin.createOrg("bench fast", "bench-fast");
  const threeOrg = await admin.createOrg("bench three policies", "bench-three");
  return {
    strict: await admin.createKey(strictOrg, "bench-strict", ["demo:read"]),
    three: await admin.createKey(threeOrg, "bench-three", ["demo:read"]),
    fast: await admin.createKey(fastOrg, "bench-fast", ["demo:read"]),
    cold: await admin.createKey(fastOrg, "bench-cold", ["demo:read"]),
    allowlisted: await admin.createKey(await admin.createOrg("bench fast allowlist", "bench-fast"), "bench-allowlist", ["demo:read"], FIFTY_ENTRY_ALLOWLIST),
  };
}

async function probeStatus(scenario: Scenario): Promise<number> {
  const response = await fetch(scenario.url + PATH, { headers: { authorization: scenario.probeKey ?? scenario.pool.values[0]!, "cf-connecting-ip": BENCH_CLIENT_IP } });
  await response.arrayBuffer();
  return response.status;
}

/** Same prefix, length and alphabet; only the checksum's last character changed, so the checksum is wrong. */
function withWrongChecksum(key: string): string {
  return key.slice(0, -1) + (key.endsWith("A") ? "B" : "A");
}

/** Storage operations of a gateway's hot path so far (bench/workers/gateway.ts). */
export interface StorageOps {
  d1Reads: number;
  kvReads: number;
  kvWrites: number;
  doCalls: number;
}

export const STORAGE_OPS: readonly (keyof StorageOps)[] = ["d1Reads", "kvReads", "kvWrites", "doCalls"];

/**
 * Has the gateway's isolate send its usage buffer now (bench/workers/gateway.ts): the ids of the
 * messages it sent in the last minute, or null for targets without a probe (nothing to flush).
 */
export async function flushUsage(worker: RunningWorker | undefined): Promise<string[] | null> {
  if (!worker?.probeUrl) return null;
  const response = await fetch(`${worker.probeUrl}/flush`, { method: "POST" });
  if (!response.ok) throw new Error(`usage flush through the bench probe failed: ${response.status} ${await response.text()}`);
  return ((await response.json()) as { sent: string[] }).sent;
}

/** Read from the bench-only probe entrypoint of a gateway's isolate; null for targets without one. */
export async function storageOps(worker: RunningWorker | undefined): Promise<StorageOps | null> {
  if (!worker?.probeUrl) return null;
  const response = await fetch(`${worker.probeUrl}/`);
  const ops = (await response.json()) as Partial<StorageOps>;
  return { d1Reads: ops.d1Reads ?? 0, kvReads: ops.kvReads ?? 0, kvWrites: ops.kvWrites ?? 0, doCalls: ops.doCalls ?? 0 };
}
