// Pure arithmetic and formatting for the benchmark: no I/O, so it can be checked in isolation.

/** Nearest-rank percentile of an ascending-sorted sample (p in 0..100); NaN for no samples. */
export function percentile(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1]!;
}

/** Ascending copy of latency samples, as a typed array (numeric sort, no comparator allocation per call). */
export function sortedSamples(chunks: readonly Float64Array[]): Float64Array {
  const total = chunks.reduce((n, c) => n + c.length, 0);
  const all = new Float64Array(total);
  let offset = 0;
  for (const chunk of chunks) {
    all.set(chunk, offset);
    offset += chunk.length;
  }
  return all.sort();
}

/** Growable float buffer for latencies: one response costs one store, not one boxed array slot. */
export class SampleBuffer {
  #data = new Float64Array(1 << 14);
  #length = 0;

  push(value: number): void {
    if (this.#length === this.#data.length) {
      const bigger = new Float64Array(this.#data.length * 2);
      bigger.set(this.#data);
      this.#data = bigger;
    }
    this.#data[this.#length++] = value;
  }

  get length(): number {
    return this.#length;
  }

  values(): Float64Array {
    return this.#data.slice(0, this.#length);
  }
}

/** One timed window against one target. */
export interface WindowResult {
  requests: number;
  durationMs: number;
  errors: number;
  statuses: Record<string, number>;
  latencies: Float64Array;
}

export interface Summary {
  requests: number;
  rps: number;
  /** Requests per second of the slowest and fastest window: the spread machine noise caused. */
  rpsMin: number;
  rpsMax: number;
  p50: number;
  p99: number;
  errors: number;
  statuses: Record<string, number>;
}

/** Folds the windows of one scenario: throughput over the summed time, percentiles over all samples. */
export function summarize(windows: readonly WindowResult[]): Summary {
  const requests = windows.reduce((n, w) => n + w.requests, 0);
  const durationMs = windows.reduce((n, w) => n + w.durationMs, 0);
  const perWindow = windows.map((w) => (w.durationMs > 0 ? (w.requests * 1000) / w.durationMs : 0));
  const statuses: Record<string, number> = {};
  for (const w of windows) for (const [code, n] of Object.entries(w.statuses)) statuses[code] = (statuses[code] ?? 0) + n;
  const sorted = sortedSamples(windows.map((w) => w.latencies));
  return {
    requests,
    rps: durationMs > 0 ? (requests * 1000) / durationMs : 0,
    rpsMin: perWindow.length ? Math.min(...perWindow) : 0,
    rpsMax: perWindow.length ? Math.max(...perWindow) : 0,
    p50: percentile(sorted, 50),
    p99: percentile(sorted, 99),
    errors: windows.reduce((n, w) => n + w.errors, 0),
    statuses,
  };
}

export function ratio(numerator: number, denominator: number): number {
  return denominator > 0 ? numerator / denominator : Number.NaN;
}

/** A goal and what was measured against it. `value` NaN means it could not be measured. */
export interface TargetCheck {
  name: string;
  goal: string;
  value: number;
  display: string;
  pass: boolean;
}

export function atLeast(name: string, value: number, min: number, unit = "×"): TargetCheck {
  return { name, goal: `≥ ${min}${unit}`, value, display: `${fixed(value, 2)}${unit}`, pass: Number.isFinite(value) && value >= min };
}

export function atMost(name: string, value: number, max: number, unit: string, digits = 3): TargetCheck {
  return { name, goal: `≤ ${max}${unit}`, value, display: `${fixed(value, digits)}${unit}`, pass: Number.isFinite(value) && value <= max };
}

export function fixed(value: number, digits: number): string {
  return Number.isFinite(value) ? value.toFixed(digits) : "n/a";
}

/** Plain-text table with right-aligned numeric columns; the first column is left-aligned. */
export function formatTable(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: readonly string[]) =>
    cells.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join("  ").trimEnd();
  return [line(header), widths.map((w) => "-".repeat(w)).join("  "), ...rows.map(line)].join("\n");
}

/** GitHub-flavoured Markdown table with the same cells; the first `textColumns` columns are left-aligned. */
export function formatMarkdownTable(header: readonly string[], rows: readonly (readonly string[])[], textColumns = 1): string {
  const align = header.map((_, i) => (i < textColumns ? ":--" : "--:"));
  return [header, align, ...rows].map((cells) => `| ${cells.join(" | ")} |`).join("\n");
}

/** Deterministic PRNG (mulberry32): a bootstrap that gives the same interval for the same samples. */
function mulberry32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function resampledMedian(sample: Float64Array, scratch: Float64Array, random: () => number): number {
  const n = sample.length;
  for (let i = 0; i < n; i++) scratch[i] = sample[(random() * n) | 0]!;
  scratch.sort();
  return percentile(scratch, 50);
}

export interface Interval {
  estimate: number;
  lo: number;
  hi: number;
  /** Confidence level, e.g. 0.95. */
  level: number;
  iterations: number;
}

/**
 * Percentile-bootstrap confidence interval for median(a) − median(b): both samples are resampled
 * with replacement, independently, `iterations` times. Resampling single requests treats them as
 * independent, which neighbouring requests on one connection are not quite; the interval is a
 * floor on the uncertainty, not a ceiling. NaN bounds when either sample is empty.
 */
export function bootstrapMedianDiff(a: Float64Array, b: Float64Array, iterations = 1000, level = 0.95, seed = 1): Interval {
  const estimate = percentile(Float64Array.from(a).sort(), 50) - percentile(Float64Array.from(b).sort(), 50);
  if (a.length === 0 || b.length === 0) return { estimate, lo: Number.NaN, hi: Number.NaN, level, iterations: 0 };
  const random = mulberry32(seed);
  const scratchA = new Float64Array(a.length);
  const scratchB = new Float64Array(b.length);
  const diffs = new Float64Array(iterations);
  for (let i = 0; i < iterations; i++) diffs[i] = resampledMedian(a, scratchA, random) - resampledMedian(b, scratchB, random);
  diffs.sort();
  const tail = (1 - level) / 2;
  return { estimate, lo: percentile(diffs, tail * 100), hi: percentile(diffs, (1 - tail) * 100), level, iterations };
}
