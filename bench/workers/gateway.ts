// The gateway exactly as deployed (src/index.ts: same fetch, queue and Durable Object exports)
// plus one named entrypoint, BenchProbe, that the benchmark reaches on a socket of its own.
// The probe is not part of the gateway's fetch handler, so it adds nothing to the measured path
// and is no endpoint of the deployed worker: this file is built only by the benchmark.
import gateway from "../../src/index";
import type { LookupProbe } from "../../src/cache/index";
import { isolate } from "../../src/isolate";
import type { LimiterProbe } from "../../src/ratelimit/durable_object_limiter";
import type { Env } from "../../src/env";

export { RateLimiterObject } from "../../src/index";

// Injected into this isolate's key memory: the production build counts nothing.
const lookupStats: LookupProbe = { d1Reads: 0, kvReads: 0, kvWrites: 0 };
isolate.keys.probe = lookupStats;
const limiterStats: LimiterProbe = { doCalls: 0 };
isolate.limiterProbe = limiterStats;
export default gateway;

/**
 * `GET /`: storage operations of this isolate's hot path so far (workerd runs the worker in one
 * isolate locally): D1 reads (fillKv's re-check included), KV reads and writes, Durable Object
 * limiter calls. `POST /flush`: sends the isolate's usage buffer now (what the next scheduled flush
 * would send up to USAGE_FLUSH_INTERVAL_MS later) and answers with the ids of the messages this
 * isolate sent in the last minute, so the benchmark charges each window its own usage work.
 */
export const BenchProbe = {
  async fetch(request, env): Promise<Response> {
    if (request.method === "POST" && new URL(request.url).pathname === "/flush") {
      return Response.json({ sent: await isolate.runtime(env).usage.flush() });
    }
    return Response.json({ ...lookupStats, doCalls: limiterStats.doCalls });
  },
} satisfies ExportedHandler<Env>;
