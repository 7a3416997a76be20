// `keys usage` and `orgs usage`: the usage response (SPEC §8) as a short report and tables.
import { type Column, record, table } from "./render.ts";

type ByStatus = Record<"1xx" | "2xx" | "3xx" | "4xx" | "5xx", number>;
interface Latency {
  p50: number;
  p95: number;
  p99: number;
  max: number;
}
interface Summary {
  count: number;
  by_status: ByStatus;
  latency_ms: Latency | null;
}
interface Bucket extends Summary {
  start: string;
}
export interface UsageReport {
  key_id?: string;
  org_id?: string;
  granularity: string;
  since: string;
  until: string;
  totals: Summary;
  series: Bucket[];
  recent?: { at: string; method: string; path: string; status: number; latency_ms: number }[];
  keys?: { key_id: string; count: number; by_status: ByStatus }[];
}

type Stream = NodeJS.WriteStream;
const CLASSES = ["1xx", "2xx", "3xx", "4xx", "5xx"] as const;

/** 1xx only when some call had one: it is rare, and a column of zeros is noise. */
function classesOf(report: UsageReport): (typeof CLASSES)[number][] {
  return CLASSES.filter((name) => name !== "1xx" || report.totals.by_status["1xx"] > 0);
}

function statusLine(summary: { count: number; by_status: ByStatus }, classes: readonly (typeof CLASSES)[number][]): string {
  return `${summary.count} (${classes.map((name) => `${name} ${summary.by_status[name]}`).join(", ")})`;
}

export function usageReport(report: UsageReport, stream: Stream): string {
  const classes = classesOf(report);
  const latency = report.totals.latency_ms;
  const head: Record<string, unknown> = {
    ...(report.key_id ? { key_id: report.key_id } : { org_id: report.org_id }),
    range: `${report.since} .. ${report.until} (${report.granularity})`,
    calls: statusLine(report.totals, classes),
    latency_ms: latency ? `p50 ${latency.p50}  p95 ${latency.p95}  p99 ${latency.p99}  max ${latency.max}` : "-",
  };
  const sections = [record(head, stream)];

  const bucketColumns: Column<Bucket>[] = [
    { header: "START", value: (b) => b.start },
    { header: "CALLS", value: (b) => b.count },
    ...classes.map((name): Column<Bucket> => ({ header: name.toUpperCase(), value: (b) => b.by_status[name] })),
    ...(["p50", "p95", "p99", "max"] as const).map((p): Column<Bucket> => ({ header: `${p.toUpperCase()} MS`, value: (b) => b.latency_ms?.[p] })),
  ];
  sections.push(`series\n${report.series.length === 0 ? "(none)" : table(report.series, bucketColumns, stream)}`);

  if (report.keys) {
    const keyColumns: Column<NonNullable<UsageReport["keys"]>[number]>[] = [
      { header: "KEY", value: (k) => k.key_id },
      { header: "CALLS", value: (k) => k.count },
      ...classes.map((name) => ({ header: name.toUpperCase(), value: (k: { by_status: ByStatus }) => k.by_status[name] })),
    ];
    sections.push(`keys\n${report.keys.length === 0 ? "(none)" : table(report.keys, keyColumns, stream)}`);
  }
  if (report.recent) {
    const recentColumns: Column<NonNullable<UsageReport["recent"]>[number]>[] = [
      { header: "AT", value: (c) => c.at },
      { header: "METHOD", value: (c) => c.method },
      { header: "PATH", value: (c) => c.path },
      { header: "STATUS", value: (c) => c.status },
      { header: "LATENCY MS", value: (c) => c.latency_ms },
    ];
    sections.push(`recent\n${report.recent.length === 0 ? "(none)" : table(report.recent, recentColumns, stream)}`);
  }
  return sections.join("\n\n");
}
