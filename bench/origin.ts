// The benchmark's origin: Node `http`, one fixed small JSON body, nothing else, so the origin's
// own cost is as small and as constant as it can be. It runs in a worker thread: the load
// generator owns the main thread's event loop and must not share it with the server it loads.
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { isMainThread, parentPort, Worker, workerData } from "node:worker_threads";

const BODY = Buffer.from(JSON.stringify({ ok: true, origin: "keygate-bench", items: [1, 2, 3] }));
const HEADERS = { "content-type": "application/json", "content-length": String(BODY.length) };

export function createBenchOrigin(): Server {
  const server = createServer((req, res) => {
    // Drain any request body so keep-alive connections stay usable.
    req.resume();
    req.on("end", () => {
      res.writeHead(200, HEADERS);
      res.end(BODY);
    });
  });
  server.keepAliveTimeout = 60_000;
  return server;
}

export interface RunningOrigin {
  url: string;
  stop(): Promise<void>;
}

const ROLE = "keygate-bench-origin";

/** Starts the origin in its own thread on a free loopback port. */
export async function startOrigin(): Promise<RunningOrigin> {
  const worker = new Worker(new URL(import.meta.url), { workerData: { role: ROLE } });
  const port = await new Promise<number>((resolve, reject) => {
    worker.once("message", (message: { port: number }) => resolve(message.port));
    worker.once("error", reject);
    worker.once("exit", (code) => reject(new Error(`bench origin thread exited with code ${code}`)));
  });
  return {
    url: `http://127.0.0.1:${port}`,
    async stop() {
      await worker.terminate();
    },
  };
}

if (!isMainThread && (workerData as { role?: string } | null)?.role === ROLE) {
  const server = createBenchOrigin();
  server.listen(0, "127.0.0.1", () => parentPort!.postMessage({ port: (server.address() as AddressInfo).port }));
}
