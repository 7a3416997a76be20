// Starts a throwaway redis-server from $PATH on a free loopback port, for the Upstash backend's tests.
import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { connectResp } from "./resp.ts";

export interface RedisServer {
  port: number;
  stop(): Promise<void>;
}

const START_TIMEOUT_MS = 10_000;

/** A port the kernel just handed out on 127.0.0.1 (free unless someone grabs it in the next instant; start retries). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** No persistence, loopback only, nothing written to the repository. */
export async function startRedisServer(): Promise<RedisServer> {
  let lastError: unknown;
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freePort();
    try {
      return await launch(port);
    } catch (err) {
      lastError = err;
      if ((err as NodeJS.ErrnoException).code === "ENOENT") break;
    }
  }
  throw lastError;
}

async function launch(port: number): Promise<RedisServer> {
  const child = spawn("redis-server", ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", tmpdir()], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stdout!.on("data", (chunk: Buffer) => (output = (output + chunk.toString()).slice(-4_000)));
  child.stderr!.on("data", (chunk: Buffer) => (output = (output + chunk.toString()).slice(-4_000)));
  const spawnError = new Promise<never>((_, reject) =>
    child.once("error", (err: NodeJS.ErrnoException) => {
      if (err.code === "ENOENT") err.message = "redis-server is not on PATH: install it (`npm test` does on Debian as root and on macOS with Homebrew: test/system-programs.ts)";
      reject(err);
    }),
  );
  spawnError.catch(() => undefined);

  const deadline = Date.now() + START_TIMEOUT_MS;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`redis-server exited with ${child.exitCode}:\n${output}`);
    const pong = await Promise.race([ping(port), spawnError]).catch((err: NodeJS.ErrnoException) => {
      if (err.code === "ENOENT") throw err;
      return false;
    });
    if (pong) break;
    if (Date.now() > deadline) {
      await stop(child);
      throw new Error(`redis-server did not answer PING on port ${port} within ${START_TIMEOUT_MS} ms:\n${output}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return { port, stop: () => stop(child) };
}

async function ping(port: number): Promise<boolean> {
  const connection = await connectResp(port);
  try {
    const [reply] = await connection.send([["PING"]]);
    return reply === "PONG";
  } finally {
    connection.close();
  }
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, "exit");
  child.kill("SIGTERM");
  const timer = setTimeout(() => child.kill("SIGKILL"), 5_000);
  await exited;
  clearTimeout(timer);
}
