import type { PolicyDecision } from "./counters";
import type { LimitPlan } from "./policy";

/** The limiter's answer for all of a plan's counters at once. */
export interface LimitAnswer {
  /** check: every policy had room and all were spent; record: every counter is within its limit; peek: every policy has room. */
  allowed: boolean;
  /** One per counter of the plan, in its order. */
  policies: PolicyDecision[];
  /**
   * The limiter object was told that this key ended (revoked, or the old key of a rotation past its
   * grace period): the request is refused whatever a stale cache says. Durable Object backend only.
   */
  ended?: KeyEnd;
  /**
   * The limiter object was told the key changed (PATCH) after the version the request's record
   * carries: the record is stale; nothing was spent (check). Durable Object backend only.
   */
  changedAt?: number;
}

export interface KeyEnd {
  reason: "revoked" | "expired";
  /** Epoch ms from which the key is refused. */
  at: number;
}

/**
 * Whether a key end applies now. A revocation is final as stored (as verifyKey reads revoked_at),
 * whatever this clock says: a revoke stamped by a clock a little ahead of this one must not admit
 * the key until then. An expiry (a rotation's grace period ending) waits for its time.
 */
export function hasEnded(end: KeyEnd, now: number): boolean {
  return end.reason === "revoked" || end.at <= now;
}

/**
 * One interface, two backends (`upstash.ts`, `durable_object_limiter.ts`). Every method is ONE call
 * to the store, whatever the number of counters in the plan. Throws `RateLimiterUnavailableError`
 * when the store cannot answer.
 */
export interface RateLimiter {
  /** Spends `cost` on every counter if every policy has room for it; a denied request spends nothing. */
  limit(plan: LimitPlan, cost: number): Promise<LimitAnswer>;
  /**
   * Adds `count` units that were already admitted elsewhere (fast mode's local admissions) whatever
   * the counters hold; a negative count gives units back (never below zero).
   */
  record(plan: LimitPlan, count: number): Promise<LimitAnswer>;
  /** Reads every policy without spending anything (`GET …/limits`); `cost` is what `allowed` is judged for. */
  peek(plan: LimitPlan, cost: number): Promise<LimitAnswer>;
  /** Tells the limiter that a key ended, so requests anywhere see it in their own call (no-op where unsupported). */
  endKey(scope: string, keyId: string, end: KeyEnd): Promise<void>;
  /** Tells the limiter that a key's row changed at `at`, so requests holding an older record learn it (no-op where unsupported). */
  keyChanged(scope: string, keyId: string, at: number): Promise<void>;
}

/** The limiter knows of a change to the key newer than the record the request was decided with. */
export class StaleKeyRecord extends Error {
  constructor() {
    super("the key changed after this record was cached");
    this.name = "StaleKeyRecord";
  }
}

export class RateLimiterUnavailableError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "RateLimiterUnavailableError";
  }
}
