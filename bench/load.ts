// One timed window of load against one target, with autocannon. Latencies are recorded from
// autocannon's per-response event (float milliseconds from process.hrtime) rather than its own
// histogram, which keeps whole milliseconds only and would hide the sub-millisecond differences
// this benchmark is about; every status is recorded, not only 2xx, so the 401 floods count too.
import autocannon from "autocannon";
import { SampleBuffer, type WindowResult } from "./stats.ts";

export interface LoadSpec {
  /** Target origin, e.g. http://127.0.0.1:8787 */
  url: string;
  path: string;
  connections: number;
  durationSec: number;
  /**
   * Authorization header values used in turn, one per request. Every scenario goes through this
   * same per-request path (a pool of one for a fixed key), so the client's own cost is the same
   * for all targets and the bytes on the wire are alike.
   */
  pool: KeyPool;
}

/** Header values taken in turn; the cursor carries over from window to window. */
export interface KeyPool {
  values: readonly string[];
  /** How many values were handed out so far. */
  cursor: number;
  /** When set, every request gets a new value from it instead (a flood in which no key ever repeats). */
  fresh?: () => string;
}

/** The client address every benchmark request claims; the allowlist key's only matching entry. */
export const BENCH_CLIENT_IP = "127.0.0.1";

export const keyPool = (values: readonly string[]): KeyPool => ({ values, cursor: 0 });

/** A pool that never repeats: `values` holds only the first value, for the sanity check. */
export const freshPool = (make: () => string): KeyPool => ({ values: [make()], cursor: 0, fresh: make });

export function runLoad(spec: LoadSpec): Promise<WindowResult> {
  const pool = spec.pool;
  const latencies = new SampleBuffer();
  const statuses: Record<string, number> = {};
  return new Promise((resolve, reject) => {
    const instance = autocannon(
      {
        url: spec.url,
        connections: spec.connections,
        duration: spec.durationSec,
        pipelining: 1,
        timeout: 10,
        requests: [
          {
            method: "GET",
            path: spec.path,
            setupRequest(request) {
              const authorization = pool.fresh ? pool.fresh() : pool.values[pool.cursor % pool.values.length]!;
              pool.cursor++;
              // CF-Connecting-IP as Cloudflare's edge would set it (workerd takes it from the client here), on every
              // request to every target, so the allowlist scenario differs from the others only in its key.
              request.headers = { ...request.headers, authorization, "cf-connecting-ip": BENCH_CLIENT_IP };
              return request;
            },
          },
        ],
      },
      (err, result) => {
        if (err) return reject(err);
        resolve({
          requests: latencies.length,
          durationMs: result.finish.getTime() - result.start.getTime(),
          errors: result.errors + result.timeouts,
          statuses,
          latencies: latencies.values(),
        });
      },
    );
    instance.on("response", (_client, statusCode, _bytes, responseTimeMs) => {
      latencies.push(responseTimeMs);
      statuses[statusCode] = (statuses[statusCode] ?? 0) + 1;
    });
  });
}
