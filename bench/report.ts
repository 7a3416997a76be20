// Turns measurements into the printed table, the PASS/MISS targets, bench/results.json and
// bench/RESULTS.md. Machine and versions are recorded with every run: a figure without them is
// not reproducible.
import { readFileSync } from "node:fs";
import { writeFile } from "node:fs/promises";
import os from "node:os";
import { join } from "node:path";
import type { ColdKeyResult } from "./cold.ts";
import { atLeast, atMost, fixed, formatMarkdownTable, formatTable, ratio, type Summary, type TargetCheck } from "./stats.ts";

export interface ScenarioRow {
  id: string;
  label: string;
  concurrency: number;
  expectedStatus: number;
  summary: Summary;
}

export interface UnknownKeyFlood {
  distinctKeys: number;
  d1Reads: number;
  spanMs: number;
  negativeCacheTtlMs: number;
  /** distinct keys × started negative-cache TTL periods over the flood's span */
  allowedReads: number;
}

export interface BenchReport {
  date: string;
  mode: "quick" | "full";
  settings: { rounds: number; windowSec: number; warmupSec: number; concurrency: number[]; loadGenerator: string };
  machine: { cpu: string; cores: number; memoryGiB: number; os: string; loadAverageAtStart: number[] };
  versions: Record<string, string>;
  rows: ScenarioRow[];
  unknownKeyFlood: UnknownKeyFlood | null;
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

export function evaluateTargets(rows: readonly ScenarioRow[], flood: UnknownKeyFlood | null): TargetCheck[] {
  const rpsRatio = (id: string, c: number) => {
    const [a, b] = [row(rows, id, c), row(rows, "passthrough", c)];
    return isValid(a) && isValid(b) ? ratio(a.summary.rps, b.summary.rps) : Number.NaN;
  };
  const [three, one] = [row(rows, "do-strict-3", 32), row(rows, "do-strict", 32)];
  const threeVsOne = isValid(three) && isValid(one) ? ratio(three.summary.rps, one.summary.rps) : Number.NaN;
  const fast1 = row(rows, "do-fast", 1);
  const pass1 = row(rows, "passthrough", 1);
  const addedP50 = isValid(fast1) && isValid(pass1) ? fast1.summary.p50 - pass1.summary.p50 : Number.NaN;
  const targets = [
    atLeast("gateway DO fast, c=32: req/s vs pass-through", rpsRatio("do-fast", 32), 0.9),
    atMost("gateway DO fast, c=1: added p50 vs pass-through", addedP50, 0.15, " ms"),
    atLeast("gateway DO strict, c=32: req/s vs pass-through", rpsRatio("do-strict", 32), 0.75),
    atLeast("DO strict, 3 policies (burst + default + monthly quota) vs 1 window, c=32: req/s", threeVsOne, 0.95),
    atLeast("malformed-key flood, c=32: req/s vs pass-through", rpsRatio("malformed", 32), 1.5),
  ];
  const floodRows = rows.filter((r) => r.id === "unknown");
  const floodAnswered = floodRows.length > 0 && floodRows.every(answeredAsExpected);
  const readsPerKey = flood && flood.distinctKeys > 0 ? flood.d1Reads / flood.distinctKeys : Number.NaN;
  const periods = flood ? flood.allowedReads / Math.max(1, flood.distinctKeys) : 1;
  targets.push({
    name: "unknown-key flood: D1 reads per distinct key",
    goal: `≤ 1 per ${flood ? flood.negativeCacheTtlMs / 1000 : "?"} s TTL (≤ ${fixed(periods, 0)} over the run)`,
    value: readsPerKey,
    display: flood ? `${flood.d1Reads} reads / ${flood.distinctKeys} keys = ${fixed(readsPerKey, 2)}` : "n/a",
    // Only if every flood request was refused as unknown: a gateway that answered otherwise was not looking keys up.
    pass: floodAnswered && flood !== null && flood.distinctKeys > 0 && flood.d1Reads <= flood.allowedReads,
  });
  return targets;
}

const HEADER = ["scenario", "c", "req/s", "windows req/s", "p50 ms", "p99 ms", "req/s vs pass", "p50 vs pass", "statuses"];

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
      statuses,
    ];
  });
}

const targetCells = (targets: readonly TargetCheck[]) => targets.map((t) => [t.pass ? "PASS" : "MISS", t.name, t.goal, t.display]);

export function formatConsole(report: BenchReport): string {
  const lines = [
    formatTable(HEADER, tableCells(report.rows)),
    "",
    ...coldAndFloodLines(report),
    "",
    "Targets:",
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
    lines.push(
      `Unknown-key flood: ${f.distinctKeys} distinct well-formed keys over ${fixed(f.spanMs / 1000, 1)} s caused ${f.d1Reads} D1 reads ` +
        `(allowed ${f.allowedReads}: one per key per ${f.negativeCacheTtlMs / 1000} s negative-cache TTL)`,
    );
  }
  return lines;
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
    "## Targets",
    "",
    formatMarkdownTable(["", "target", "goal", "measured"], targetCells(report.targets), 4),
    ...(report.notes.length ? ["", "## Notes", "", ...report.notes.map((n) => `- ${n}`)] : []),
    "",
  ].join("\n");
}

export async function writeReport(benchDir: string, report: BenchReport): Promise<void> {
  await writeFile(join(benchDir, "results.json"), JSON.stringify(report, null, 2) + "\n");
  await writeFile(join(benchDir, "RESULTS.md"), formatMarkdown(report));
}
