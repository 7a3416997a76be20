// Both workers are bundled by wrangler itself (`wrangler deploy --dry-run --outdir`), so they get
// exactly the bundling a deploy would give: same esbuild settings, same nodejs_compat handling.
// The gateway is built from wrangler.toml; the pass-through, which has no bindings (wrangler would
// insist it export the gateway's Durable Object), from a config generated with the same
// compatibility date and flags.
import { spawn } from "node:child_process";
import { mkdir, rm, writeFile } from "node:fs/promises";
import { basename, extname, join } from "node:path";

export interface BuiltWorker {
  name: string;
  /** The bundled ES module that Miniflare loads. */
  scriptPath: string;
}

export interface RuntimeSettings {
  compatibilityDate?: string;
  compatibilityFlags?: string[];
}

/** `signal` kills the wrangler process when the benchmark is stopped mid-build. */
export async function buildWorker(root: string, name: string, entry: string, config: { configPath: string } | { runtime: RuntimeSettings }, signal?: AbortSignal): Promise<BuiltWorker> {
  const outdir = join(root, "bench", ".tmp", name);
  await rm(outdir, { recursive: true, force: true });
  await mkdir(outdir, { recursive: true });
  let configPath: string;
  if ("configPath" in config) {
    configPath = config.configPath;
  } else {
    configPath = join(root, "bench", ".tmp", `${name}.wrangler.json`);
    const { compatibilityDate, compatibilityFlags } = config.runtime;
    await writeFile(configPath, JSON.stringify({ name: `keygate-bench-${name}`, main: join(root, entry), compatibility_date: compatibilityDate, compatibility_flags: compatibilityFlags }));
  }
  // Run with this Node (22), not whatever `node` the bin shim's shebang would find.
  const wranglerBin = join(root, "node_modules", "wrangler", "bin", "wrangler.js");
  const args = [wranglerBin, "deploy", entry, "--dry-run", "--outdir", outdir, "--name", `keygate-bench-${name}`, "--config", configPath];
  await run(process.execPath, args, root, signal);
  // wrangler names the bundle after the entry file.
  return { name, scriptPath: join(outdir, `${basename(entry, extname(entry))}.js`) };
}

function run(command: string, args: string[], cwd: string, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const env = { ...process.env, WRANGLER_SEND_METRICS: "false", NO_COLOR: "1" };
    const child = spawn(command, args, { cwd, env, signal, killSignal: "SIGKILL", stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    child.stdout.on("data", (chunk: Buffer) => (output += chunk));
    child.stderr.on("data", (chunk: Buffer) => (output += chunk));
    child.on("error", reject);
    child.on("exit", (code) => (code === 0 ? resolve() : reject(new Error(`wrangler build of ${basename(cwd)}/${args[2]} failed (exit ${code}):\n${output}`))));
  });
}
