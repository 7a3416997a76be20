// Turns measurements into the printed table, the PASS/MISS targets, bench/results.json and
// bench/RESULTS.md. Machine and versions are recorded with every run: a figure without them is
// not reproducible.
import { readFileSync } from "node:fs";
import { writeFile } from "node:fs/promises";
import os from "node:os";
import { join } from "node:path";
import type { ColdKeyResult } from "./cold.ts";
import { atLeast, atMost, fixed, formatMarkdownTable, formatTable, type Interval, ratio, type Summary, type TargetCheck } from "./stats.ts";

/** Storage operations per 1,000 requests (or per request, for the floods), from the gateway's probe. */
export interface StorageRates {
  d1Reads: number;
  kvReads: number;
  kvWrites: number;
  doCalls: number;
}

export interface ScenarioRow {
  id: string;
  label: string;
  concurrency: number;
  expectedStatus: number;
  summary: Summary;
  /** user+sys CPU µs of the serving workerd process(es) per request, from /proc; absent when not measurable. */
  cpuUsPerRequest?: number;
  /** Storage operations per 1,000 requests; absent for targets without a probe (origin, pass-through). */
  storagePer1000?: StorageRates;
  /** The same from a quarter into each window to its end: past the misses at the start of each window. */
  steadyStoragePer1000?: StorageRates;
}

/** The unknown-key flood, in which no key repeats: every request is one distinct key. */
export interface UnknownKeyFlood {
  distinctKeys: number;
  /** Storage operations the flood's requests caused, in all. */
  ops: StorageRates;
  negativeCacheTtlMs: number;
}

export interface BenchReport {
  date: string;
  mode: "quick" | "full";
  settings: { rounds: number; windowSec: number; warmupSec: number; concurrency: number[]; loadGenerator: string };
  machine: { cpu: string; cores: number; memoryGiB: number; os: string; loadAverageAtStart: number[] };
  versions: Record<string, string>;
  rows: ScenarioRow[];
  unknownKeyFlood: UnknownKeyFlood | null;
  /** Added p50 of the DO fast gateway over the pass-through at c=1, with its bootstrap interval. */
  addedP50AtC1: Interval | null;
  coldKey: ColdKeyResult | null;
  targets: TargetCheck[];
  notes: string[];
}

export function machineInfo(): BenchReport["machine"] {
  const cpus = os.cpus();
  return {
    cpu: cpus[0]?.model.trim() ?? "unknown",
    cores: cpus.length,
    memoryGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    os: `${os.type()} ${os.release()} ${os.arch()}`,
    loadAverageAtStart: os.loadavg().map((n) => Math.round(n * 100) / 100),
  };
}

export function versions(root: string): Record<string, string> {
  const version = (pkg: string) => {
    try {
      return (JSON.parse(readFileSync(join(root, "node_modules", pkg, "package.json"), "utf8")) as { version: string }).version;
    } catch {
      return "unknown";
    }
  };
  return { node: process.version, workerd: version("workerd"), wrangler: version("wrangler"), miniflare: version("miniflare"), autocannon: version("autocannon") };
}

const row = (rows: readonly ScenarioRow[], id: string, concurrency: number) => rows.find((r) => r.id === id && r.concurrency === concurrency);

/** A scenario whose responses were not what it exists to measure cannot pass a target. */
export function isValid(r: ScenarioRow | undefined): r is ScenarioRow {
  if (!r || r.summary.requests === 0) return false;
  const expected = r.summary.statuses[r.expectedStatus] ?? 0;
  return r.summary.errors === 0 && expected === r.summary.requests;
}

const answeredAsExpected = (r: ScenarioRow): boolean => isValid(r);

/** The gateway's CPU µs per request minus the pass-through's, at one concurrency. */
export function addedCpu(rows: readonly ScenarioRow[], id: string, concurrency: number): number {
  const [a, b] = [row(rows, id, concurrency), row(rows, "passthrough", concurrency)];
  if (!isValid(a) || !isValid(b) || a.cpuUsPerRequest === undefined || b.cpuUsPerRequest === undefined) return Number.NaN;
  return a.cpuUsPerRequest - b.cpuUsPerRequest;
}

const totalOps = (ops: StorageRates) => ops.d1Reads + ops.kvReads + ops.kvWrites + ops.doCalls;

export function evaluateTargets(rows: readonly ScenarioRow[], flood: UnknownKeyFlood | null, addedP50: Interval | null): TargetCheck[] {
  const rpsRatio = (id: string, c: number) => {
    const [a, b] = [row(rows, id, c), row(rows, "passthrough", c)];
    return isValid(a) && isValid(b) ? ratio(a.summary.rps, b.summary.rps) : Number.NaN;
  };
  const [three, one] = [row(rows, "do-strict-3", 32), row(rows, "do-strict", 32)];
  const threeVsOne = isValid(three) && isValid(one) ? ratio(three.summary.rps, one.summary.rps) : Number.NaN;
  const fast1Valid = isValid(row(rows, "do-fast", 1)) && isValid(row(rows, "passthrough", 1));
  const p50Upper = fast1Valid && addedP50 ? addedP50.hi : Number.NaN;
  const p50Check = atMost("gateway DO fast, c=1: added p50 vs pass-through (95% CI upper bound)", p50Upper, 0.1, " ms");
  if (fast1Valid && addedP50) p50Check.display = `${fixed(addedP50.estimate, 3)} ms [${fixed(addedP50.lo, 3)}, ${fixed(addedP50.hi, 3)}]`;

  // Warm-key steady state: both DO fast rows, from a quarter into each window (its start follows a pause).
  const warmRows = rows.filter((r) => r.id === "do-fast");
  const warmValid = warmRows.length > 0 && warmRows.every((r) => isValid(r) && r.steadyStoragePer1000 !== undefined);
  const warmRequests = warmRows.reduce((n, r) => n + r.summary.requests, 0);
  const warmPer1000 = (field: keyof StorageRates) =>
    warmValid && warmRequests > 0 ? warmRows.reduce((n, r) => n + (r.steadyStoragePer1000![field] * r.summary.requests) / 1000, 0) * (1000 / warmRequests) : Number.NaN;

  const targets = [
    atLeast("gateway DO fast, c=32: req/s vs pass-through", rpsRatio("do-fast", 32), 0.9),
    p50Check,
    atMost("gateway DO fast, c=32: added CPU per request", addedCpu(rows, "do-fast", 32), 60, " µs", 0),
    atLeast("gateway DO strict, c=32: req/s vs pass-through", rpsRatio("do-strict", 32), 0.75),
    atMost("gateway DO strict, c=32: added CPU per request", addedCpu(rows, "do-strict", 32), 150, " µs", 0),
    // A warm key's memory record is refreshed once per MEMORY_CACHE_TTL_MS per isolate (stale-while-revalidate):
    // under load that rounds to 0 per 1,000 requests, which is the goal; the exact rate is shown.
    atMost("warm key (DO fast), steady state: KV reads per 1,000 requests", warmPer1000("kvReads"), 0.5, "", 3),
    atMost("warm key (DO fast), steady state: D1 reads per 1,000 requests", warmPer1000("d1Reads"), 0.5, "", 3),
    atLeast("DO strict, 3 policies (burst + default + monthly quota) vs 1 window, c=32: req/s", threeVsOne, 0.95),
  ];

  const floodRows = rows.filter((r) => r.id === "unknown");
  const floodAnswered = floodRows.length > 0 && floodRows.every(answeredAsExpected);
  const perKey = (field: keyof StorageRates) => (flood && flood.distinctKeys > 0 ? flood.ops[field] / flood.distinctKeys : Number.NaN);
  targets.push(
    {
      name: "unknown-key flood (no repeats): KV writes",
      goal: "0",
      value: flood ? flood.ops.kvWrites : Number.NaN,
      display: flood ? `${flood.ops.kvWrites} for ${flood.distinctKeys} keys` : "n/a",
      // Only if every flood request was refused as unknown: a gateway that answered otherwise was not looking keys up.
      pass: floodAnswered && flood !== null && flood.distinctKeys > 0 && flood.ops.kvWrites === 0,
    },
    {
      name: "unknown-key flood (no repeats): D1 reads per distinct key",
      goal: "≤ 1",
      value: perKey("d1Reads"),
      display: flood ? `${flood.ops.d1Reads} / ${flood.distinctKeys} = ${fixed(perKey("d1Reads"), 3)}` : "n/a",
      pass: floodAnswered && flood !== null && flood.distinctKeys > 0 && flood.ops.d1Reads <= flood.distinctKeys,
    },
  );
  const malformed = rows.filter((r) => r.id === "malformed");
  const malformedValid = malformed.length > 0 && malformed.every((r) => answeredAsExpected(r) && r.storagePer1000 !== undefined);
  const malformedOps = malformedValid ? malformed.reduce((n, r) => n + (totalOps(r.storagePer1000!) * r.summary.requests) / 1000, 0) : Number.NaN;
  targets.push({
    name: "malformed-key flood: storage operations of any kind",
    goal: "0",
    value: malformedOps,
    display: malformedValid ? `${Math.round(malformedOps)} in ${malformed.reduce((n, r) => n + r.summary.requests, 0)} requests` : "n/a",
    pass: malformedValid && Math.round(malformedOps) === 0,
  });
  return targets;
}

const HEADER = ["scenario", "c", "req/s", "windows req/s", "p50 ms", "p99 ms", "req/s vs pass", "p50 vs pass", "CPU µs/req", "CPU vs pass", "D1/KV r/KV w/DO per 1k", "statuses"];

const perThousand = (ops: StorageRates | undefined) =>
  ops ? [ops.d1Reads, ops.kvReads, ops.kvWrites, ops.doCalls].map((n) => (n === 0 ? "0" : n >= 100 ? n.toFixed(0) : n.toFixed(2))).join(" / ") : "";

function tableCells(rows: readonly ScenarioRow[]): string[][] {
  return rows.map((r) => {
    const base = row(rows, "passthrough", r.concurrency);
    const s = r.summary;
    const statuses = Object.entries(s.statuses).map(([code, n]) => `${code}×${n}`).join(" ") + (s.errors ? ` err×${s.errors}` : "");
    const comparable = base && r.id !== "passthrough" && isValid(base);
    return [
      r.label + (answeredAsExpected(r) ? "" : ` (!expected ${r.expectedStatus})`),
      String(r.concurrency),
      fixed(s.rps, 0),
      `${fixed(s.rpsMin, 0)}–${fixed(s.rpsMax, 0)}`,
      fixed(s.p50, 3),
      fixed(s.p99, 3),
      comparable ? `${fixed(ratio(s.rps, base.summary.rps), 2)}×` : "",
      comparable ? `${s.p50 - base.summary.p50 >= 0 ? "+" : ""}${fixed(s.p50 - base.summary.p50, 3)}` : "",
      r.cpuUsPerRequest === undefined ? "" : fixed(r.cpuUsPerRequest, 0),
      comparable && r.cpuUsPerRequest !== undefined && base.cpuUsPerRequest !== undefined ? `${r.cpuUsPerRequest - base.cpuUsPerRequest >= 0 ? "+" : ""}${fixed(r.cpuUsPerRequest - base.cpuUsPerRequest, 0)}` : "",
      perThousand(r.storagePer1000),
      statuses,
    ];
  });
}

/**
 * A quick run's 1 s warm-up and 2 s windows leave processes cold, the pass-through most (its only
 * scenario): one quick run on 2026-12-05 put DO fast at 1.09x the pass-through and -28 µs of added
 * CPU, where the full run an hour before said 0.81x and +74. Its targets are a smoke check, not a verdict.
 */
export const targetsHeading = (mode: BenchReport["mode"]): string =>
  mode === "quick" ? "Targets (quick run: indicative only; judge the targets on a full run)" : "Targets";

const targetCells = (targets: readonly TargetCheck[]) => targets.map((t) => [t.pass ? "PASS" : "MISS", t.name, t.goal, t.display]);

export function formatConsole(report: BenchReport): string {
  const lines = [
    formatTable(HEADER, tableCells(report.rows)),
    "",
    ...coldAndFloodLines(report),
    "",
    `${targetsHeading(report.mode)}:`,
    formatTable(["", "target", "goal", "measured"], targetCells(report.targets)),
  ];
  if (report.notes.length) lines.push("", ...report.notes.map((n) => `note: ${n}`));
  return lines.join("\n");
}

function coldAndFloodLines(report: BenchReport): string[] {
  const lines: string[] = [];
  const c = report.coldKey;
  if (c) {
    lines.push(
      `Cold key (first request after a purge, ${c.samples} samples, one client): p50 ${fixed(c.coldP50, 3)} ms, p99 ${fixed(c.coldP99, 3)} ms; ` +
        `same key warm: p50 ${fixed(c.warmP50, 3)} ms, p99 ${fixed(c.warmP99, 3)} ms`,
    );
  }
  const f = report.unknownKeyFlood;
  if (f) {
    const per = (n: number) => fixed(n / Math.max(1, f.distinctKeys), 3);
    lines.push(
      `Unknown-key flood: ${f.distinctKeys} distinct well-formed keys, none repeated: ${f.ops.d1Reads} D1 reads, ${f.ops.kvReads} KV reads, ` +
        `${f.ops.kvWrites} KV writes, ${f.ops.doCalls} limiter calls; per distinct key ${per(f.ops.d1Reads)} / ${per(f.ops.kvReads)} / ${per(f.ops.kvWrites)} / ${per(f.ops.doCalls)}`,
    );
  }
  lines.push(...floorLines(report.rows));
  const ci = report.addedP50AtC1;
  if (ci) lines.push(`Added p50 at c=1 (DO fast − pass-through): ${fixed(ci.estimate, 3)} ms, ${Math.round(ci.level * 100)}% bootstrap CI [${fixed(ci.lo, 3)}, ${fixed(ci.hi, 3)}] ms (${ci.iterations} resamples of single requests)`);
  return lines;
}

/**
 * The floors against the gateway, per concurrency: what SPEC §3 makes every proxied request cost here
 * (bench/workers/floor.ts), and what the gateway adds above it with its own logic. A CPU target below
 * its floor cannot be met by any gateway on this runtime and this machine.
 */
export function floorLines(rows: readonly ScenarioRow[]): string[] {
  const concurrencies = [...new Set(rows.filter((r) => r.id === "floor").map((r) => r.concurrency))];
  return concurrencies.flatMap((c) => {
    const pass = row(rows, "passthrough", c);
    const part = (id: string, label: string) => {
      const r = row(rows, id, c);
      const added = addedCpu(rows, id, c);
      return Number.isNaN(added) || !r || !pass ? null : `${label} +${fixed(added, 0)} µs (${fixed(ratio(r.summary.rps, pass.summary.rps), 2)}× req/s)`;
    };
    const own = (id: string, floorId: string, label: string) => {
      const [gateway, floor] = [addedCpu(rows, id, c), addedCpu(rows, floorId, c)];
      return Number.isNaN(gateway) || Number.isNaN(floor) ? null : `${label} +${fixed(gateway, 0)} µs = its floor +${fixed(floor, 0)} + ${fixed(gateway - floor, 0)} of its own`;
    };
    const parts = [part("floor", "mandated headers"), part("floor-rpc", "the same + one empty Durable Object round trip"), own("do-fast", "floor", "DO fast"), own("do-strict", "floor-rpc", "DO strict")].filter((p): p is string => p !== null);
    return parts.length ? [`Floors at c=${c}, added CPU per request over the pass-through: ${parts.join("; ")}`] : [];
  });
}

export function formatMarkdown(report: BenchReport): string {
  const m = report.machine;
  const v = report.versions;
  return [
    "# keygate benchmark results",
    "",
    `Produced by \`npm run bench${report.mode === "quick" ? " -- --quick" : ""}\` on ${report.date}. Regenerate with the same command; see README.md ("Benchmark").`,
    "",
    `- Machine: ${m.cpu}, ${m.cores} cores, ${m.memoryGiB} GiB, ${m.os}; load average at start ${m.loadAverageAtStart.join(" / ")}`,
    `- Versions: Node ${v.node}, workerd ${v.workerd}, wrangler ${v.wrangler}, miniflare ${v.miniflare}, autocannon ${v.autocannon}`,
    `- Load: ${report.settings.loadGenerator}; ${report.settings.rounds} interleaved rounds × ${report.settings.windowSec} s per scenario and concurrency, after ${report.settings.warmupSec} s warm-up each; latencies in ms, measured by the client`,
    "- Local figures: storage simulators share the cores, and Miniflare adds an outbound hop to every proxied request (bench/README.md, \"Reading the figures\")",
    "",
    formatMarkdownTable(HEADER, tableCells(report.rows)),
    "",
    ...coldAndFloodLines(report).map((l) => `${l}\n`),
    `## ${targetsHeading(report.mode)}`,
    "",
    formatMarkdownTable(["", "target", "goal", "measured"], targetCells(report.targets), 4),
    ...(report.notes.length ? ["", "## Notes", "", ...report.notes.map((n) => `- ${n}`)] : []),
    "",
  ].join("\n");
}

/** `suffix` "-ab" for A/B runs, so they never overwrite the full run's files. */
export async function writeReport(benchDir: string, report: BenchReport, suffix = ""): Promise<void> {
  await writeFile(join(benchDir, `results${suffix}.json`), JSON.stringify(report, null, 2) + "\n");
  await writeFile(join(benchDir, `RESULTS${suffix}.md`), formatMarkdown(report));
}
