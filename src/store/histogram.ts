/**
 * The fixed latency histogram every usage aggregate carries (SPEC §8). Fixed bounds make
 * histograms from any isolate, minute or hour add up bucket by bucket, in the isolate and in SQL
 * (`h0 = h0 + excluded.h0`), and a percentile read from them is off by at most one bucket width:
 * the bounds grow by ~1.5x, so a reported p99 is the true p99 or at most ~50% above it, never below.
 */

/** Upper bounds in ms (inclusive) of every bucket but the last, which holds everything slower. */
export const LATENCY_BOUNDS_MS = [1, 2, 3, 5, 7, 10, 15, 20, 30, 50, 70, 100, 150, 200, 300, 500, 700, 1000, 1500, 2000, 3000, 5000, 10000, 30000] as const;
export const HISTOGRAM_BUCKETS = LATENCY_BOUNDS_MS.length + 1;

/** The bucket a latency falls in: a short linear scan beats a binary search at this size, and allocates nothing. */
export function bucketOf(latencyMs: number): number {
  let i = 0;
  while (i < LATENCY_BOUNDS_MS.length && latencyMs > LATENCY_BOUNDS_MS[i]!) i++;
  return i;
}

export interface LatencySummary {
  p50: number;
  p95: number;
  p99: number;
  max: number;
}

/**
 * Percentiles from bucket counts: the upper bound of the bucket holding the p-th call, capped by
 * the observed max (so one fast call reports its own latency, not its bucket's bound).
 */
export function summarize(histogram: readonly number[], maxMs: number): LatencySummary | null {
  let total = 0;
  for (const n of histogram) total += n;
  if (total === 0) return null;
  const at = (p: number): number => {
    const rank = Math.ceil(total * p);
    let seen = 0;
    for (let i = 0; i < histogram.length; i++) {
      seen += histogram[i]!;
      if (seen >= rank) return Math.min(LATENCY_BOUNDS_MS[i] ?? maxMs, maxMs);
    }
    return maxMs;
  };
  return { p50: at(0.5), p95: at(0.95), p99: at(0.99), max: maxMs };
}
