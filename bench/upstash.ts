// The Upstash backend's store for the benchmark: a real redis-server behind the project's
// Upstash-REST-compatible bridge, both from the test infrastructure (test/node/redis-server.ts,
// test/node/upstash-bridge.ts; one bridge in the project, not a second one here). The bridge runs in
// a worker thread of its own, like the origin: it must not share the load generator's event loop.
import { randomBytes } from "node:crypto";
import { isMainThread, parentPort, Worker, workerData } from "node:worker_threads";
import { startRedisServer } from "../test/node/redis-server.ts";
import { startUpstashBridge } from "../test/node/upstash-bridge.ts";

export interface UpstashStore {
  /** UPSTASH_REDIS_REST_URL for the gateway */
  url: string;
  /** UPSTASH_REDIS_REST_TOKEN for the gateway */
  token: string;
  stop(): Promise<void>;
}

const ROLE = "keygate-bench-upstash-bridge";

interface BridgeThreadData {
  role: typeof ROLE;
  redisPort: number;
  token: string;
}

export async function startUpstashStore(): Promise<UpstashStore> {
  const redis = await startRedisServer();
  const token = randomBytes(24).toString("hex");
  try {
    const worker = new Worker(new URL(import.meta.url), { workerData: { role: ROLE, redisPort: redis.port, token } satisfies BridgeThreadData });
    const url = await new Promise<string>((resolve, reject) => {
      worker.once("message", (message: { url: string }) => resolve(message.url));
      worker.once("error", reject);
      worker.once("exit", (code) => reject(new Error(`Upstash bridge thread exited with code ${code}`)));
    });
    return {
      url,
      token,
      async stop() {
        // Both set off at once: redis-server gets its SIGTERM before this yields.
        await Promise.all([redis.stop(), worker.terminate()]);
      },
    };
  } catch (err) {
    await redis.stop();
    throw err;
  }
}

if (!isMainThread && (workerData as Partial<BridgeThreadData> | null)?.role === ROLE) {
  const { redisPort, token } = workerData as BridgeThreadData;
  const bridge = await startUpstashBridge({ redisPort, token });
  parentPort!.postMessage({ url: bridge.url });
}
