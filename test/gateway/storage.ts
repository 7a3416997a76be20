// Real local bindings, observed or broken on purpose: counting wrappers for the flood and
// steady-state tests, failing ones for fault injection. Neither replaces our storage logic.
import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { handleRequest } from "../../src/app";
import type { Env } from "../../src/env";

export interface StorageCounts {
  /** D1 statements prepared: one per query. */
  d1: number;
  kvGet: number;
  kvPut: number;
  kvDelete: number;
}

/** Passes every call through to `target`, calling `onCall(name)` first; `onCall` may throw to inject a failure. */
function observed<T extends object>(target: T, onCall: (name: string) => void): T {
  return new Proxy(target, {
    get(object, prop) {
      const value = Reflect.get(object, prop) as unknown;
      if (typeof value !== "function") return value;
      return (...args: unknown[]) => {
        onCall(String(prop));
        return (value as (...a: unknown[]) => unknown).apply(object, args);
      };
    },
  });
}

/** The test env with D1 and KV counted. */
export function countingEnv(overrides: Partial<Env> = {}): { env: Env; counts: StorageCounts } {
  const counts: StorageCounts = { d1: 0, kvGet: 0, kvPut: 0, kvDelete: 0 };
  const DB = observed(env.DB, (name) => {
    if (name === "prepare") counts.d1++;
  });
  const KEY_CACHE = observed(env.KEY_CACHE, (name) => {
    if (name === "get" || name === "getWithMetadata") counts.kvGet++;
    if (name === "put") counts.kvPut++;
    if (name === "delete") counts.kvDelete++;
  });
  return { env: { ...env, ...overrides, DB, KEY_CACHE }, counts };
}

/** A binding whose every method call fails, as an outage would (the error the runtime would throw). */
export function failing<T extends object>(target: T, what: string): T {
  return observed(target, () => {
    throw new Error(`${what} is unavailable (injected fault)`);
  });
}

/** One request through the worker's fetch handler with `testEnv`, its waitUntil work awaited. */
export async function callWith(testEnv: Env, path: string, init?: RequestInit): Promise<Response> {
  const ctx = createExecutionContext();
  const res = await handleRequest(new Request(`http://gw.test${path}`, init), testEnv, ctx);
  await waitOnExecutionContext(ctx);
  return res;
}
