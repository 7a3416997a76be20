// Cold-key latency: the first request for a key after its caches were purged (memory miss, KV
// miss, one D1 read, cache fill), against the same key warmed, measured one request at a time
// with one keep-alive client so the two differ only in what the gateway does.
import { Agent, request } from "node:http";
import { performance } from "node:perf_hooks";
import type { BenchKey, ManagementClient } from "./seed.ts";
import { percentile } from "./stats.ts";

export interface ColdKeyResult {
  samples: number;
  coldP50: number;
  coldP99: number;
  warmP50: number;
  warmP99: number;
  statuses: Record<string, number>;
}

export async function measureColdKey(gatewayUrl: string, path: string, key: BenchKey, admin: ManagementClient, samples: number): Promise<ColdKeyResult> {
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  const statuses: Record<string, number> = {};
  const cold: number[] = [];
  const warm: number[] = [];
  try {
    const get = async (): Promise<number> => {
      const { status, ms } = await timedGet(agent, gatewayUrl + path, key.key);
      statuses[status] = (statuses[status] ?? 0) + 1;
      return ms;
    };
    await get(); // open the connection outside the measurement
    for (let i = 0; i < samples; i++) {
      await admin.renameKey(key, `bench-cold-${i}`);
      cold.push(await get());
      warm.push(await get());
    }
  } finally {
    agent.destroy();
  }
  cold.sort((a, b) => a - b);
  warm.sort((a, b) => a - b);
  return { samples, coldP50: percentile(cold, 50), coldP99: percentile(cold, 99), warmP50: percentile(warm, 50), warmP99: percentile(warm, 99), statuses };
}

function timedGet(agent: Agent, url: string, key: string): Promise<{ status: number; ms: number }> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const req = request(url, { agent, headers: { authorization: `Bearer ${key}` } }, (res) => {
      res.resume();
      res.on("end", () => resolve({ status: res.statusCode ?? 0, ms: performance.now() - started }));
    });
    req.on("error", reject);
    req.end();
  });
}
