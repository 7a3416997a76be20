import type { RateLimiterObject } from "./durable_object";
import type { KeyEnd, LimitAnswer, RateLimiter } from "./interface";
import { RateLimiterUnavailableError } from "./interface";
import type { Counter, LimitPlan } from "./policy";
import { decodeAnswer, wirePlan } from "./wire";

export interface DurableObjectLimiterOptions {
  namespace: DurableObjectNamespace<RateLimiterObject>;
  /** How long a decision may take before the store counts as unavailable (the failure mode decides). */
  timeoutMs?: number;
  /** Counts the object calls made, when injected (the benchmark's storage-operations probe); production passes none. */
  probe?: LimiterProbe | null;
}

export interface LimiterProbe {
  doCalls: number;
}

export const DEFAULT_LIMITER_TIMEOUT_MS = 1_000;

/** Plans in wire form, computed once per plan (a key's plan is built once per cached record). */
const wirePlans = new WeakMap<readonly Counter[], string>();

function wireOf(counters: readonly Counter[]): string {
  let wire = wirePlans.get(counters);
  if (wire === undefined) {
    wire = wirePlan(counters);
    wirePlans.set(counters, wire);
  }
  return wire;
}

/** Object ids a limiter keeps (idFromName hashes the name on every call); the oldest is dropped beyond this. */
const MAX_CACHED_IDS = 10_000;

/**
 * The zero-configuration backend: one `RateLimiterObject` per limiter scope, one RPC call per
 * request for all of the plan's counters. Any failure to get an answer (the object threw, was
 * reset, is overloaded, or did not answer within `timeoutMs`) is `RateLimiterUnavailableError`, so
 * `RATE_LIMIT_FAILURE_MODE` alone decides what the caller sees.
 *
 * Ids are plain values and are kept for the isolate's life; stubs are not: workerd binds a stub to
 * the request that made it (another request's call through it fails), so each call makes its own.
 */
export function durableObjectLimiter({ namespace, timeoutMs = DEFAULT_LIMITER_TIMEOUT_MS, probe = null }: DurableObjectLimiterOptions): RateLimiter {
  const ids = new Map<string, DurableObjectId>();
  const stubFor = (scope: string) => {
    let id = ids.get(scope);
    if (!id) {
      id = namespace.idFromName(scope);
      ids.set(scope, id);
      if (ids.size > MAX_CACHED_IDS) ids.delete(ids.keys().next().value!);
    }
    return namespace.get(id);
  };
  const call = (plan: LimitPlan, cost: number, operation: "check" | "record" | "peek") => {
    if (probe) probe.doCalls++;
    const { counters } = plan;
    return withDeadline(
      () => (stubFor(plan.scope).decideWire(wireOf(counters), cost, operation, plan.keyId, plan.version) as Promise<number[]>).then((wire) => decodeAnswer(counters, wire)),
      timeoutMs,
      "durable-object",
    );
  };

  return {
    limit: (plan, cost) => call(plan, cost, "check"),
    record: (plan, count) => call(plan, count, "record"),
    peek: (plan, cost) => call(plan, cost, "peek"),
    endKey: (scope: string, keyId: string, end: KeyEnd) => withDeadline(() => stubFor(scope).endKey(keyId, end), timeoutMs, "durable-object"),
    keyChanged: (scope: string, keyId: string, at: number) => withDeadline(() => stubFor(scope).keyChanged(keyId, at), timeoutMs, "durable-object"),
  };
}

/**
 * Runs `work`, turning any failure or an answer later than `timeoutMs` into `RateLimiterUnavailableError`.
 * One timer and one promise per call (it runs for every strict request): no Promise.race, no async frame.
 */
export function withDeadline<T>(work: () => Promise<T>, timeoutMs: number, store: string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new RateLimiterUnavailableError(`${store} rate limiter did not answer within ${timeoutMs} ms`)), timeoutMs);
    let answer: Promise<T>;
    try {
      answer = work();
    } catch (err) {
      answer = Promise.reject(err);
    }
    answer.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (err: unknown) => {
        clearTimeout(timer);
        reject(unavailable(store, err));
      },
    );
  });
}

function unavailable(store: string, err: unknown): RateLimiterUnavailableError {
  if (err instanceof RateLimiterUnavailableError) return err;
  return new RateLimiterUnavailableError(`${store} rate limiter failed: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
}
