// The benchmark's pure pieces: percentiles, folding windows, targets, table layout. No timing here:
// the benchmark itself is the measurement.
import { describe, expect, it } from "vitest";
import { evaluateTargets, floorLines, type ScenarioRow, targetsHeading, type UnknownKeyFlood } from "../../bench/report.ts";
import { bootstrapMedianDiff, formatTable, type Interval, percentile, SampleBuffer, summarize, type WindowResult } from "../../bench/stats.ts";

const window = (requests: number, durationMs: number, latencies: number[], statuses: Record<string, number> = { 200: requests }): WindowResult => ({
  requests,
  durationMs,
  errors: 0,
  statuses,
  latencies: Float64Array.from(latencies),
});

const NO_OPS = { d1Reads: 0, kvReads: 0, kvWrites: 0, doCalls: 0 };

const row = (id: string, concurrency: number, rps: number, p50: number, expectedStatus = 200, statuses?: Record<string, number>, cpu = 100, ops = NO_OPS): ScenarioRow => ({
  id,
  label: id,
  concurrency,
  expectedStatus,
  summary: { requests: 100, rps, rpsMin: rps, rpsMax: rps, p50, p99: p50 * 2, errors: 0, statuses: statuses ?? { [expectedStatus]: 100 } },
  cpuUsPerRequest: cpu,
  ...(id === "passthrough" ? {} : { storagePer1000: ops, steadyStoragePer1000: ops }),
});

const flood = (d1Reads: number, kvWrites = 0): UnknownKeyFlood => ({ distinctKeys: 256, ops: { d1Reads, kvReads: 256, kvWrites, doCalls: 0 }, negativeCacheTtlMs: 30_000 });
const ci = (estimate: number, hi: number): Interval => ({ estimate, lo: estimate - (hi - estimate), hi, level: 0.95, iterations: 1000 });

describe("bench statistics", () => {
  it("takes nearest-rank percentiles of sorted samples", () => {
    const sorted = Float64Array.from([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(percentile(sorted, 50)).toBe(5);
    expect(percentile(sorted, 99)).toBe(10);
    expect(percentile(sorted, 0)).toBe(1);
    expect(percentile(new Float64Array(0), 50)).toBeNaN();
  });

  it("folds windows: throughput over the summed time, percentiles over all samples, statuses added", () => {
    const summary = summarize([window(100, 1000, [3, 1, 2]), window(300, 1000, [4, 6, 5], { 200: 299, 401: 1 })]);
    expect(summary.requests).toBe(400);
    expect(summary.rps).toBe(200);
    expect([summary.rpsMin, summary.rpsMax]).toEqual([100, 300]);
    expect(summary.p50).toBe(3);
    expect(summary.p99).toBe(6);
    expect(summary.statuses).toEqual({ 200: 399, 401: 1 });
  });

  it("keeps every pushed sample when the buffer grows", () => {
    const buffer = new SampleBuffer();
    for (let i = 0; i < 40_000; i++) buffer.push(i / 1000);
    expect(buffer.length).toBe(40_000);
    expect(buffer.values()[39_999]).toBe(39.999);
  });

  it("aligns numeric columns right and the first column left", () => {
    const table = formatTable(["scenario", "req/s"], [["a", "5"], ["longer", "1234"]]);
    expect(table.split("\n")).toEqual(["scenario  req/s", "--------  -----", "a             5", "longer     1234"]);
  });
});

describe("bench bootstrap", () => {
  it("brackets the difference of medians, and is reproducible", () => {
    const a = Float64Array.from({ length: 2000 }, (_, i) => 1.2 + (i % 50) / 1000);
    const b = Float64Array.from({ length: 2000 }, (_, i) => 1.0 + (i % 50) / 1000);
    const interval = bootstrapMedianDiff(a, b, 300);
    expect(interval.estimate).toBeCloseTo(0.2, 6);
    expect(interval.lo).toBeLessThanOrEqual(interval.estimate);
    expect(interval.hi).toBeGreaterThanOrEqual(interval.estimate);
    expect(interval.hi - interval.lo).toBeLessThan(0.01);
    expect(bootstrapMedianDiff(a, b, 300)).toEqual(interval);
  });

  it("is wide for a noisy sample and has no bounds without samples", () => {
    const noisy = Float64Array.from({ length: 200 }, (_, i) => ((i * 7919) % 200) / 20);
    const steady = Float64Array.from({ length: 200 }, () => 5);
    const interval = bootstrapMedianDiff(noisy, steady, 300);
    expect(interval.hi - interval.lo).toBeGreaterThan(0.5);
    expect(bootstrapMedianDiff(new Float64Array(0), steady).hi).toBeNaN();
  });
});

describe("bench targets", () => {
  const passing = [
    row("passthrough", 1, 1000, 1.0, 200, undefined, 300),
    row("passthrough", 32, 1000, 10, 200, undefined, 300),
    row("do-fast", 1, 950, 1.05, 200, undefined, 350, { ...NO_OPS, doCalls: 1000 }),
    row("do-fast", 32, 950, 10.5, 200, undefined, 350, { ...NO_OPS, kvReads: 0.2, doCalls: 1000 }),
    row("do-strict", 32, 800, 12, 200, undefined, 420, { ...NO_OPS, doCalls: 1000 }),
    row("do-strict-3", 32, 780, 12, 200, undefined, 430, { ...NO_OPS, doCalls: 1000 }),
    row("malformed", 32, 1600, 5, 401),
    row("unknown", 32, 1500, 5, 401),
  ];
  const names = (rows: ScenarioRow[], f: UnknownKeyFlood | null, p: Interval | null) => evaluateTargets(rows, f, p).map((t) => [t.name, t.pass]);

  it("passes each goal when the measurement meets it", () => {
    const results = evaluateTargets(passing, flood(256), ci(0.05, 0.09));
    expect(results.filter((t) => !t.pass).map((t) => t.name)).toEqual([]);
    expect(results).toHaveLength(11);
  });

  it("misses each goal when the measurement falls short", () => {
    const short = [
      row("passthrough", 1, 1000, 1.0, 200, undefined, 300),
      row("passthrough", 32, 1000, 10, 200, undefined, 300),
      row("do-fast", 1, 800, 1.3, 200, undefined, 400, { ...NO_OPS, kvReads: 2, d1Reads: 1 }),
      row("do-fast", 32, 890, 11, 200, undefined, 400, { ...NO_OPS, kvReads: 2, d1Reads: 1 }),
      row("do-strict", 32, 740, 14, 200, undefined, 500),
      row("do-strict-3", 32, 700, 15, 200, undefined, 520),
      row("malformed", 32, 1400, 5, 401, undefined, 100, { ...NO_OPS, kvReads: 10 }),
      row("unknown", 32, 1500, 5, 401),
    ];
    expect(names(short, flood(513, 3), ci(0.05, 0.12)).filter(([, pass]) => pass)).toEqual([]);
  });

  it("judges the c=1 latency by the interval's upper bound, not the estimate", () => {
    const p50 = (interval: Interval) => evaluateTargets(passing, flood(256), interval).find((t) => t.name.includes("c=1"))!.pass;
    expect(p50(ci(0.05, 0.09))).toBe(true);
    expect(p50(ci(0.08, 0.11))).toBe(false);
    expect(evaluateTargets(passing, flood(256), null).find((t) => t.name.includes("c=1"))!.pass).toBe(false);
  });

  it("cannot pass with a scenario that answered something other than what it exists to measure", () => {
    const notRouted = passing.map((r) => (r.id === "do-fast" ? row("do-fast", r.concurrency, 5000, 0.1, 200, { 404: 100 }, 1) : r));
    const results = evaluateTargets(notRouted, flood(0), ci(0, 0.01));
    for (const t of results.filter((t) => t.name.includes("DO fast"))) expect(t.pass, t.name).toBe(false);
  });

  it("cannot pass the unknown-key goals without a flood, or when the flood was not refused as unknown", () => {
    const flooded = (rows: ScenarioRow[], f: UnknownKeyFlood | null) => evaluateTargets(rows, f, ci(0.05, 0.09)).filter((t) => t.name.startsWith("unknown-key")).map((t) => t.pass);
    expect(flooded(passing, null)).toEqual([false, false]);
    const admitted = passing.map((r) => (r.id === "unknown" ? row("unknown", 32, 1500, 5, 401, { 200: 100 }) : r));
    expect(flooded(admitted, flood(0))).toEqual([false, false]);
  });
});

describe("bench floors", () => {
  it("splits the gateway's added CPU into its floor and its own logic, per concurrency", () => {
    const rows = [
      row("passthrough", 32, 1000, 8, 200, undefined, 300),
      row("floor", 32, 900, 8.5, 200, undefined, 340),
      row("floor-rpc", 32, 700, 9, 200, undefined, 420),
      row("do-fast", 32, 750, 9, 200, undefined, 410),
      row("do-strict", 32, 550, 12, 200, undefined, 540),
    ];
    expect(floorLines(rows)).toEqual([
      "Floors at c=32, added CPU per request over the pass-through: mandated headers +40 µs (0.90× req/s); " +
        "the same + one empty Durable Object round trip +120 µs (0.70× req/s); " +
        "DO fast +110 µs = its floor +40 + 70 of its own; DO strict +240 µs = its floor +120 + 120 of its own",
    ]);
  });

  it("says nothing of a floor that did not answer as expected, nor without floors", () => {
    const rows = [row("passthrough", 1, 1000, 1), row("floor", 1, 900, 1.1, 200, { 502: 100 }), row("do-fast", 1, 800, 1.2)];
    expect(floorLines(rows)).toEqual([]);
    expect(floorLines([row("passthrough", 1, 1000, 1), row("do-fast", 1, 800, 1.2)])).toEqual([]);
  });
});

describe("targetsHeading", () => {
  it("marks a quick run's targets as indicative, and a full run's plainly", () => {
    expect(targetsHeading("quick")).toContain("indicative only");
    expect(targetsHeading("full")).toBe("Targets");
  });
});
