import { KeygateError } from "../errors";

/**
 * Optimistic concurrency for the key routes (see `apiKeys.version`). A write conditioned on the
 * version it read changes nothing when another write got there first; the route then reads the
 * key again and re-applies the request to what is now stored (its checks included), so the
 * request is serialised after the one that won. After `WRITE_ATTEMPTS` lost races in a row the
 * client gets 409 `conflict` rather than an unbounded loop.
 */
export const WRITE_ATTEMPTS = 5;

/** Returned by an attempt whose conditional write changed nothing because the row had changed. */
export const STALE: unique symbol = Symbol("stale read");

export async function retryOnStale<T>(what: string, attempt: () => Promise<T | typeof STALE>): Promise<T> {
  for (let i = 0; i < WRITE_ATTEMPTS; i++) {
    const result = await attempt();
    if (result !== STALE) return result;
  }
  throw new KeygateError("conflict", `${what} was changed concurrently ${WRITE_ATTEMPTS} times in a row; read it again and retry`);
}
