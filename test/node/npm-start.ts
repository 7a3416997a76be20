// Runs `npm start` (scripts/start.ts) the way an operator does, for tests that need a whole local
// gateway: the start test itself, and the CLI and origin tests that talk to one.
import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { freePort } from "./redis-server.ts";

export const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const SCRIPT = join(ROOT, "scripts", "start.ts");
export const TOKEN = "start-test-operator-token-0123456789";

/** Runs `npm start`'s script; the token comes from the environment so the repo's .dev.vars is never touched. */
export function start(env: Record<string, string>, args: string[] = []): { child: ChildProcess; output: () => string } {
  const child = spawn(process.execPath, [SCRIPT, ...args], {
    cwd: ROOT,
    env: { ...process.env, ADMIN_TOKEN: TOKEN, FORCE_COLOR: "0", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let text = "";
  child.stdout!.on("data", (chunk: Buffer) => (text += chunk.toString()));
  child.stderr!.on("data", (chunk: Buffer) => (text += chunk.toString()));
  return { child, output: () => text };
}

export async function untilOutput(run: ReturnType<typeof start>, marker: string): Promise<void> {
  while (!run.output().includes(marker)) {
    if (run.child.exitCode !== null) throw new Error(`npm start exited early:\n${run.output()}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

export interface LocalGateway {
  /** http://127.0.0.1:<port> */
  url: string;
  originUrl: string;
  token: string;
  /** npm start's own process id. */
  pid: number;
  output(): string;
  stop(): Promise<void>;
}

/**
 * One `npm start` on free ports, ready when it prints its banner. Every such gateway in this
 * checkout shares .wrangler/state, so the node project runs its files one at a time (vitest.config.ts)
 * and tests create their own orgs rather than expect an empty database.
 */
export async function startGateway(env: Record<string, string> = {}, args: string[] = []): Promise<LocalGateway> {
  const port = await freePort();
  const originPort = await freePort();
  const run = start({ PORT: String(port), DEMO_ORIGIN_PORT: String(originPort), ...env }, args);
  await untilOutput(run, "keygate is running");
  return {
    url: `http://127.0.0.1:${port}`,
    originUrl: `http://127.0.0.1:${originPort}`,
    token: env.ADMIN_TOKEN ?? TOKEN,
    pid: run.child.pid!,
    output: run.output,
    async stop() {
      if (run.child.exitCode !== null) return;
      const exited = once(run.child, "exit");
      run.child.kill("SIGINT");
      await exited;
    },
  };
}
