import { describe, expect, it } from "vitest";
import { CHART_HOURS, HOUR_MS, niceMax, percentile, sumBuckets, totalOf, usageBuckets } from "./usage_chart";

const NOW = Date.parse("2026-06-01T12:30:00Z");
const at = (hoursAgo: number, minutes = 0) => new Date(Date.parse("2026-06-01T12:00:00Z") - hoursAgo * HOUR_MS + minutes * 60_000).toISOString();

describe("usage chart buckets", () => {
  it("has 24 hourly buckets ending with the current hour", () => {
    const buckets = usageBuckets({}, NOW);
    expect(buckets).toHaveLength(CHART_HOURS);
    expect(new Date(buckets.at(-1)!.start).toISOString()).toBe("2026-06-01T12:00:00.000Z");
    expect(new Date(buckets[0]!.start).toISOString()).toBe("2026-05-31T13:00:00.000Z");
  });

  it("counts per-call records by hour and status class, with nearest-rank p50/p95", () => {
    const recent = [
      ...Array.from({ length: 19 }, (_, i) => ({ status: 200, latency_ms: i + 1, at: at(0, 5) })),
      { status: 503, latency_ms: 100, at: at(0, 10) },
      { status: 404, latency_ms: 7, at: at(3) },
      { status: 200, latency_ms: 1, at: at(30) }, // older than the chart
      { status: 99, latency_ms: 1, at: at(1) }, // not a status class
    ];
    const buckets = usageBuckets({ recent }, NOW);
    const current = buckets.at(-1)!;
    expect(current.counts).toEqual({ "2xx": 19, "3xx": 0, "4xx": 0, "5xx": 1 });
    expect(current.p50).toBe(10);
    expect(current.p95).toBe(19);
    expect(buckets.at(-4)!.counts["4xx"]).toBe(1);
    expect(buckets.reduce((sum, b) => sum + totalOf(b), 0)).toBe(21);
  });

  it("sums rollup series (minute or hour) into hours", () => {
    const series = [
      { start: at(0, 1), count: 3, by_status: { "2xx": 2, "5xx": 1 }, latency_ms: { p50: 5, p95: 40 } },
      { start: at(0, 2), count: 1, by_status: { "2xx": 1 }, latency_ms: { p50: 9, p95: 12 } },
      { start: Date.parse(at(2)), count: 1, by_status: { "3xx": 1, future_class: 4 }, latency_ms: {} },
    ];
    const buckets = usageBuckets({ series, recent: [{ status: 200, at: at(0) }] }, NOW);
    expect(buckets.at(-1)!.counts).toEqual({ "2xx": 3, "3xx": 0, "4xx": 0, "5xx": 1 });
    expect(buckets.at(-1)!.p50).toBe(9);
    expect(buckets.at(-1)!.p95).toBe(40);
    expect(buckets.at(-3)!.counts["3xx"]).toBe(1);
    expect(buckets.at(-3)!.p95).toBeNull();
  });

  it("sums several keys' buckets", () => {
    const a = usageBuckets({ recent: [{ status: 200, at: at(0) }] }, NOW);
    const b = usageBuckets({ recent: [{ status: 500, at: at(0) }, { status: 200, at: at(1) }] }, NOW);
    const total = sumBuckets([a, b], NOW);
    expect(total.at(-1)!.counts).toEqual({ "2xx": 1, "3xx": 0, "4xx": 0, "5xx": 1 });
    expect(total.at(-2)!.counts["2xx"]).toBe(1);
  });

  it("ranks percentiles and picks readable axis maxima", () => {
    expect(percentile([], 50)).toBeNull();
    expect(percentile([4], 95)).toBe(4);
    expect(percentile([1, 2, 3, 4], 50)).toBe(2);
    expect([0, 1, 3, 7, 10, 11, 180, 2001].map(niceMax)).toEqual([1, 1, 5, 10, 10, 20, 200, 5000]);
  });
});
