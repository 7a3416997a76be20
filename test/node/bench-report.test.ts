// The benchmark's pure pieces: percentiles, folding windows, targets, table layout. No timing here:
// the benchmark itself is the measurement.
import { describe, expect, it } from "vitest";
import { evaluateTargets, type ScenarioRow, type UnknownKeyFlood } from "../../bench/report.ts";
import { formatTable, percentile, SampleBuffer, summarize, type WindowResult } from "../../bench/stats.ts";

const window = (requests: number, durationMs: number, latencies: number[], statuses: Record<string, number> = { 200: requests }): WindowResult => ({
  requests,
  durationMs,
  errors: 0,
  statuses,
  latencies: Float64Array.from(latencies),
});

const row = (id: string, concurrency: number, rps: number, p50: number, expectedStatus = 200, statuses?: Record<string, number>): ScenarioRow => ({
  id,
  label: id,
  concurrency,
  expectedStatus,
  summary: { requests: 100, rps, rpsMin: rps, rpsMax: rps, p50, p99: p50 * 2, errors: 0, statuses: statuses ?? { [expectedStatus]: 100 } },
});

const flood = (d1Reads: number): UnknownKeyFlood => ({ distinctKeys: 256, d1Reads, spanMs: 50_000, negativeCacheTtlMs: 30_000, allowedReads: 512 });

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

describe("bench targets", () => {
  const passing = [
    row("passthrough", 1, 1000, 1.0),
    row("passthrough", 32, 1000, 10),
    row("do-fast", 1, 950, 1.1),
    row("do-fast", 32, 950, 10.5),
    row("do-strict", 32, 800, 12),
    row("do-strict-3", 32, 780, 12),
    row("malformed", 32, 1600, 5, 401),
    row("unknown", 32, 1500, 5, 401),
  ];

  it("passes each goal when the measurement meets it", () => {
    expect(evaluateTargets(passing, flood(256)).map((t) => t.pass)).toEqual([true, true, true, true, true, true]);
  });

  it("misses each goal when the measurement falls short", () => {
    const short = [
      row("passthrough", 1, 1000, 1.0),
      row("passthrough", 32, 1000, 10),
      row("do-fast", 1, 800, 1.3),
      row("do-fast", 32, 890, 11),
      row("do-strict", 32, 740, 14),
      row("do-strict-3", 32, 700, 15),
      row("malformed", 32, 1400, 5, 401),
      row("unknown", 32, 1500, 5, 401),
    ];
    expect(evaluateTargets(short, flood(513)).map((t) => t.pass)).toEqual([false, false, false, false, false, false]);
  });

  it("cannot pass with a scenario that answered something other than what it exists to measure", () => {
    const notRouted = passing.map((r) => (r.id === "do-fast" ? row("do-fast", r.concurrency, 5000, 0.1, 200, { 404: 100 }) : r));
    const [fastThroughput, fastLatency] = evaluateTargets(notRouted, flood(0));
    expect(fastThroughput!.pass).toBe(false);
    expect(fastLatency!.pass).toBe(false);
  });

  it("cannot pass the unknown-key goal without a flood", () => {
    expect(evaluateTargets(passing, null).at(-1)!.pass).toBe(false);
  });

  it("cannot pass the unknown-key goal when the flood was not refused as unknown", () => {
    const admitted = passing.map((r) => (r.id === "unknown" ? row("unknown", 32, 1500, 5, 401, { 200: 100 }) : r));
    expect(evaluateTargets(admitted, flood(0)).at(-1)!.pass).toBe(false);
  });
});
