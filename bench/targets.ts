// The workerd side of the benchmark: every worker runs in its own Miniflare instance built from
// one set of shared options, and is reached on a direct socket (Miniflare's `unsafeDirectSockets`)
// so no router or proxy of Miniflare's or wrangler's sits in front of one target and not another.
import { Log, LogLevel, Miniflare, convertV4MiniflareOptions } from "miniflare";
import { unstable_getMiniflareWorkerOptions } from "wrangler";
import { workerdPids } from "./cpu.ts";

const HOST = "127.0.0.1";

export type WranglerWorkerOptions = ReturnType<typeof unstable_getMiniflareWorkerOptions>["workerOptions"];

/** wrangler.toml as Miniflare options: the same reader `wrangler dev` and the vitest pool use. */
export function wranglerWorkerOptions(configPath: string): WranglerWorkerOptions {
  return unstable_getMiniflareWorkerOptions(configPath).workerOptions;
}

export interface RunningWorker {
  name: string;
  /** Base URL of the worker's default entrypoint. */
  url: string;
  /** Base URL of the extra named entrypoint, when one was asked for. */
  probeUrl?: string;
  /** workerd's DevTools inspector, when the spec asked for one. */
  inspectorPort?: number;
  /** The workerd process(es) this instance started: their CPU time is this target's (bench/cpu.ts). */
  pids: number[];
  miniflare: Miniflare;
  stop(): Promise<void>;
}

export interface WorkerSpec {
  name: string;
  scriptPath: string;
  /** Options from wrangler.toml; the pass-through takes only its runtime settings, the gateway everything. */
  base: WranglerWorkerOptions;
  withBindings: boolean;
  bindings: Record<string, unknown>;
  /** Durable Object bindings of a worker that takes no options from wrangler.toml (the floor), in Miniflare form. */
  durableObjects?: Record<string, { className: string; useSQLite?: boolean }>;
  probeEntrypoint?: string;
  /** Opens workerd's DevTools inspector on this port (profiling runs only: not for measured runs). */
  inspectorPort?: number;
}

export async function startWorker(spec: WorkerSpec): Promise<RunningWorker> {
  // The bundle is one self-contained module, so wrangler's module rules have nothing to do
  // (and Miniflare 5 refuses them with a single scriptPath).
  const { modulesRules: _unused, ...base } = spec.base;
  const runtime = { rootPath: base.rootPath, compatibilityDate: base.compatibilityDate, compatibilityFlags: base.compatibilityFlags };
  const sockets = [{ host: HOST, port: 0 }, ...(spec.probeEntrypoint ? [{ host: HOST, port: 0, entrypoint: spec.probeEntrypoint }] : [])];
  const worker = {
    ...(spec.withBindings ? base : runtime),
    name: spec.name,
    scriptPath: spec.scriptPath,
    modules: true,
    bindings: { ...(spec.withBindings ? (base.bindings as Record<string, unknown>) : {}), ...spec.bindings },
    unsafeDirectSockets: sockets,
    ...(spec.durableObjects ? { durableObjects: spec.durableObjects } : {}),
  };
  // Instances are started one at a time, so the workerd processes that appear are this one's.
  const before = workerdPids();
  const miniflare = new Miniflare(
    convertV4MiniflareOptions({
      host: HOST,
      port: 0,
      log: new Log(LogLevel.WARN),
      inspectorPort: spec.inspectorPort,
      logRequests: false,
      // A placeholder `request.cf`: the real one would be fetched from the internet.
      cf: false,
      workers: [worker as never],
    }),
  );
  try {
    await miniflare.ready;
    const url = stripSlash(await miniflare.unsafeGetDirectURL(spec.name));
    const probeUrl = spec.probeEntrypoint ? stripSlash(await miniflare.unsafeGetDirectURL(spec.name, spec.probeEntrypoint)) : undefined;
    const pids = [...workerdPids()].filter((pid) => !before.has(pid));
    return { name: spec.name, url, probeUrl, inspectorPort: spec.inspectorPort, pids, miniflare, stop: () => miniflare.dispose() };
  } catch (err) {
    await miniflare.dispose().catch(() => {});
    throw err;
  }
}

const stripSlash = (url: URL) => url.href.replace(/\/$/, "");
