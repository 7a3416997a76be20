import type { FC } from "hono/jsx";

// The key detail's usage chart: requests per hour over the last 24 h by status class, with latency
// p50/p95, drawn as inline SVG on the server (no script, no charting library, nothing to load).

export const STATUS_CLASSES = ["2xx", "3xx", "4xx", "5xx"] as const;
export type StatusClass = (typeof STATUS_CLASSES)[number];

export interface UsageBucket {
  /** Epoch ms of the bucket's start. */
  start: number;
  counts: Record<StatusClass, number>;
  p50: number | null;
  p95: number | null;
}

export const HOUR_MS = 3_600_000;
export const CHART_HOURS = 24;

/** The 24 hourly buckets ending with the current hour. */
export function emptyBuckets(now: number, hours = CHART_HOURS): UsageBucket[] {
  const last = Math.floor(now / HOUR_MS) * HOUR_MS;
  return Array.from({ length: hours }, (_, i) => ({ start: last - (hours - 1 - i) * HOUR_MS, counts: { "2xx": 0, "3xx": 0, "4xx": 0, "5xx": 0 }, p50: null, p95: null }));
}

function statusClass(status: number): StatusClass | null {
  const cls = `${Math.floor(status / 100)}xx`;
  return (STATUS_CLASSES as readonly string[]).includes(cls) ? (cls as StatusClass) : null;
}

/** Nearest-rank percentile of sorted values. */
export function percentile(sorted: number[], p: number): number | null {
  if (sorted.length === 0) return null;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

const num = (value: unknown): number => (typeof value === "number" && Number.isFinite(value) ? value : 0);
const numOrNull = (value: unknown): number | null => (typeof value === "number" && Number.isFinite(value) ? value : null);

/**
 * Buckets from whatever shape the usage API answers with: rollups (`series: [{start, count,
 * by_status, latency_ms: {p50, p95}}]`) are summed into hours; per-call records (`recent: [{status,
 * latency_ms, at}]`) are counted and their latencies ranked per hour. Unknown fields are ignored.
 */
export function usageBuckets(data: unknown, now: number): UsageBucket[] {
  const buckets = emptyBuckets(now);
  const first = buckets[0]!.start;
  const indexOf = (ms: number) => (Number.isNaN(ms) || ms < first || ms >= first + CHART_HOURS * HOUR_MS ? -1 : Math.floor((ms - first) / HOUR_MS));
  const body = (data ?? {}) as { series?: unknown; recent?: unknown };
  if (Array.isArray(body.series)) {
    for (const point of body.series as Array<Record<string, unknown>>) {
      const i = indexOf(typeof point.start === "number" ? point.start : Date.parse(String(point.start)));
      if (i < 0) continue;
      const bucket = buckets[i]!;
      const byStatus = (point.by_status ?? {}) as Record<string, unknown>;
      for (const cls of STATUS_CLASSES) bucket.counts[cls] += num(byStatus[cls]);
      const latency = (point.latency_ms ?? {}) as Record<string, unknown>;
      // Rollups finer than an hour: the hour's percentile is not derivable, so the worst sub-bucket's is shown.
      const p50 = numOrNull(latency.p50);
      const p95 = numOrNull(latency.p95);
      if (p50 !== null) bucket.p50 = Math.max(bucket.p50 ?? 0, p50);
      if (p95 !== null) bucket.p95 = Math.max(bucket.p95 ?? 0, p95);
    }
    return buckets;
  }
  if (Array.isArray(body.recent)) {
    const latencies: number[][] = buckets.map(() => []);
    for (const call of body.recent as Array<Record<string, unknown>>) {
      const i = indexOf(Date.parse(String(call.at)));
      const cls = statusClass(num(call.status));
      if (i < 0 || !cls) continue;
      buckets[i]!.counts[cls] += 1;
      if (typeof call.latency_ms === "number") latencies[i]!.push(call.latency_ms);
    }
    buckets.forEach((bucket, i) => {
      const sorted = latencies[i]!.sort((a, b) => a - b);
      bucket.p50 = percentile(sorted, 50);
      bucket.p95 = percentile(sorted, 95);
    });
  }
  return buckets;
}

export const totalOf = (bucket: UsageBucket) => STATUS_CLASSES.reduce((sum, cls) => sum + bucket.counts[cls], 0);

/** Calls per status class over all buckets. */
export function classTotals(buckets: UsageBucket[]): Record<StatusClass, number> {
  const totals = { "2xx": 0, "3xx": 0, "4xx": 0, "5xx": 0 };
  for (const bucket of buckets) for (const cls of STATUS_CLASSES) totals[cls] += bucket.counts[cls];
  return totals;
}

/** Adds b's counts into a (same hours); latencies of a sum are not derivable and are dropped. */
export function sumBuckets(all: UsageBucket[][], now: number): UsageBucket[] {
  const out = emptyBuckets(now);
  for (const series of all) {
    series.forEach((bucket, i) => {
      for (const cls of STATUS_CLASSES) out[i]!.counts[cls] += bucket.counts[cls];
    });
  }
  return out;
}

/** A "nice" axis maximum: 1, 2 or 5 times a power of ten, at least `value`. */
export function niceMax(value: number): number {
  if (value <= 0) return 1;
  const power = 10 ** Math.floor(Math.log10(value));
  for (const step of [1, 2, 5, 10]) if (step * power >= value) return step * power;
  return 10 * power;
}

const WIDTH = 720;
const PAD = { left: 48, right: 12, top: 12, bottom: 28 };
const tick = (value: number) => (Number.isInteger(value) ? String(value) : value.toFixed(1));
const hourLabel = (ms: number) => new Date(ms).toISOString().slice(11, 16);

/** Stacked bars per hour by status class; the table beside it carries the same numbers for screen readers. */
/** The horizontal grid lines at 0, half and full scale, labelled with their values. */
const ValueGrid: FC<{ plotH: number; max: number; unit?: string }> = ({ plotH, max, unit = "" }) => (
  <>
    {[0, 0.5, 1].map((f) => {
      const y = PAD.top + plotH * (1 - f);
      return (
        <g>
          <line x1={PAD.left} x2={WIDTH - PAD.right} y1={y} y2={y} class="grid" />
          <text x={PAD.left - 6} y={y + 4} text-anchor="end" class="axis">
            {`${tick(max * f)}${unit}`}
          </text>
        </g>
      );
    })}
  </>
);

/** Every fourth hour's label under its slot. */
const HourAxis: FC<{ buckets: UsageBucket[]; slot: number; height: number }> = ({ buckets, slot, height }) => (
  <>
    {buckets.map((bucket, i) =>
      i % 4 === 0 ? (
        <text x={PAD.left + i * slot + slot / 2} y={height - 8} text-anchor="middle" class="axis">
          {hourLabel(bucket.start)}
        </text>
      ) : null,
    )}
  </>
);

export const RequestsChart: FC<{ buckets: UsageBucket[]; title: string }> = ({ buckets, title }) => {
  const height = 200;
  const plotW = WIDTH - PAD.left - PAD.right;
  const plotH = height - PAD.top - PAD.bottom;
  const max = niceMax(Math.max(0, ...buckets.map(totalOf)));
  const slot = plotW / buckets.length;
  const barW = Math.max(2, slot - 4);
  const total = buckets.reduce((sum, b) => sum + totalOf(b), 0);
  return (
    <figure class="chart">
      <svg viewBox={`0 0 ${WIDTH} ${height}`} role="img" aria-label={`${title}: ${total} requests in the last ${buckets.length} hours`} class="requests">
        <title>{title}</title>
        <ValueGrid plotH={plotH} max={max} />
        {buckets.map((bucket, i) => {
          let y = PAD.top + plotH;
          const x = PAD.left + i * slot + (slot - barW) / 2;
          return (
            <g data-hour={new Date(bucket.start).toISOString()} data-total={String(totalOf(bucket))}>
              {STATUS_CLASSES.map((cls) => {
                const h = (bucket.counts[cls] / max) * plotH;
                y -= h;
                return h > 0 ? <rect x={x} y={y} width={barW} height={h} class={`s${cls}`}><title>{`${hourLabel(bucket.start)} UTC: ${bucket.counts[cls]} × ${cls}`}</title></rect> : null;
              })}
            </g>
          );
        })}
        <HourAxis buckets={buckets} slot={slot} height={height} />
      </svg>
      <figcaption>
        <ul class="legend">
          {STATUS_CLASSES.map((cls) => (
            <li>
              <span class={`swatch s${cls}`} aria-hidden="true"></span>
              {cls}: {buckets.reduce((sum, b) => sum + b.counts[cls], 0)}
            </li>
          ))}
        </ul>
      </figcaption>
    </figure>
  );
};

/** p50 and p95 latency per hour as two polylines; hours without calls leave a gap. */
export const LatencyChart: FC<{ buckets: UsageBucket[]; title: string }> = ({ buckets, title }) => {
  const height = 160;
  const plotW = WIDTH - PAD.left - PAD.right;
  const plotH = height - PAD.top - PAD.bottom;
  const max = niceMax(Math.max(0, ...buckets.map((b) => b.p95 ?? b.p50 ?? 0)));
  const slot = plotW / buckets.length;
  const points = (pick: (b: UsageBucket) => number | null) =>
    buckets.flatMap((b, i) => {
      const v = pick(b);
      return v === null ? [] : [`${(PAD.left + i * slot + slot / 2).toFixed(1)},${(PAD.top + plotH * (1 - v / max)).toFixed(1)}`];
    });
  const series = [
    { name: "p50", pick: (b: UsageBucket) => b.p50 },
    { name: "p95", pick: (b: UsageBucket) => b.p95 },
  ];
  return (
    <figure class="chart">
      <svg viewBox={`0 0 ${WIDTH} ${height}`} role="img" aria-label={title} class="latency">
        <title>{title}</title>
        <ValueGrid plotH={plotH} max={max} unit=" ms" />
        {series.map(({ name, pick }) => {
          const pts = points(pick);
          return (
            <g class={`line ${name}`}>
              {pts.length > 1 ? <polyline points={pts.join(" ")} fill="none" /> : null}
              {pts.map((p) => {
                const [cx, cy] = p.split(",");
                return <circle cx={cx} cy={cy} r="3" />;
              })}
            </g>
          );
        })}
        <HourAxis buckets={buckets} slot={slot} height={height} />
      </svg>
      <figcaption>
        <ul class="legend">
          <li>
            <span class="swatch p50" aria-hidden="true"></span>p50
          </li>
          <li>
            <span class="swatch p95" aria-hidden="true"></span>p95
          </li>
        </ul>
      </figcaption>
    </figure>
  );
};

/** The chart's numbers as a table (collapsed), so the chart is never the only way to read them. */
export const UsageTable: FC<{ buckets: UsageBucket[] }> = ({ buckets }) => (
  <details>
    <summary>Hourly numbers</summary>
    <table>
      <thead>
        <tr>
          <th scope="col">Hour (UTC)</th>
          {STATUS_CLASSES.map((cls) => (
            <th scope="col">{cls}</th>
          ))}
          <th scope="col">p50 ms</th>
          <th scope="col">p95 ms</th>
        </tr>
      </thead>
      <tbody>
        {buckets.map((b) => (
          <tr>
            <td>{new Date(b.start).toISOString().slice(0, 13).replace("T", " ")}:00</td>
            {STATUS_CLASSES.map((cls) => (
              <td>{b.counts[cls]}</td>
            ))}
            <td>{b.p50 ?? "—"}</td>
            <td>{b.p95 ?? "—"}</td>
          </tr>
        ))}
      </tbody>
    </table>
  </details>
);
