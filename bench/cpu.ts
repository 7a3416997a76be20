// CPU time of the workerd processes serving a target, from /proc (Linux only): what Workers bills,
// and far steadier than req/s on a shared machine. user+sys of each process, in clock ticks.
import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";

let ticksPerSecond: number | null = null;

/** CLK_TCK (usually 100): /proc/<pid>/stat counts CPU time in these. */
function clockTicks(): number {
  if (ticksPerSecond === null) {
    try {
      ticksPerSecond = Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim()) || 100;
    } catch {
      ticksPerSecond = 100;
    }
  }
  return ticksPerSecond;
}

interface ProcStat {
  pid: number;
  comm: string;
  ppid: number;
  /** user + sys, in clock ticks */
  ticks: number;
}

function readStat(pid: number): ProcStat | null {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, "utf8");
  } catch {
    return null;
  }
  // comm may hold spaces and parentheses: it ends at the last ')'.
  const close = text.lastIndexOf(")");
  const comm = text.slice(text.indexOf("(") + 1, close);
  const fields = text.slice(close + 2).split(" ");
  // fields[0] is state (field 3); utime and stime are fields 14 and 15.
  return { pid, comm, ppid: Number(fields[1]), ticks: Number(fields[11]) + Number(fields[12]) };
}

/** Every workerd process descended from this one (Miniflare starts one per instance). */
export function workerdPids(): Set<number> {
  let entries: string[];
  try {
    entries = readdirSync("/proc");
  } catch {
    return new Set();
  }
  const stats = entries.filter((e) => /^\d+$/.test(e)).map((e) => readStat(Number(e))).filter((s): s is ProcStat => s !== null);
  const children = new Map<number, ProcStat[]>();
  for (const s of stats) children.set(s.ppid, [...(children.get(s.ppid) ?? []), s]);
  const found = new Set<number>();
  const walk = (pid: number) => {
    for (const child of children.get(pid) ?? []) {
      if (child.comm.startsWith("workerd")) found.add(child.pid);
      walk(child.pid);
    }
  };
  walk(process.pid);
  return found;
}

/** user+sys CPU milliseconds of `pids` so far (processes that are gone count 0). */
export function cpuMs(pids: Iterable<number>): number {
  let ticks = 0;
  for (const pid of pids) ticks += readStat(pid)?.ticks ?? 0;
  return (ticks * 1000) / clockTicks();
}

/** Whether CPU time can be read here at all (Linux /proc). */
export const cpuMeasurable = (): boolean => readStat(process.pid) !== null;
