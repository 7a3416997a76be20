// The gateway exactly as deployed (src/index.ts: same fetch, queue and Durable Object exports)
// plus one named entrypoint, BenchProbe, that the benchmark reaches on a socket of its own.
// The probe is not part of the gateway's fetch handler, so it adds nothing to the measured path
// and is no endpoint of the deployed worker: this file is built only by the benchmark.
import gateway from "../../src/index";
import { lookupStats } from "../../src/cache/index";

export { RateLimiterObject } from "../../src/index";
export default gateway;

/** How many key lookups reached D1 in this isolate (workerd runs the worker in one isolate locally). */
export const BenchProbe = {
  fetch(): Response {
    return Response.json({ d1Reads: lookupStats.d1Reads });
  },
} satisfies ExportedHandler;
