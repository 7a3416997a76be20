import type { RateLimitDecision, RateLimiter, RateLimitRequest } from "./interface";

/** The part of an `ExecutionContext` background work needs. */
export type Background = Pick<ExecutionContext, "waitUntil">;

export interface ConsistentLimiter {
  /** Decides one request in the request's `mode`; throws `RateLimiterUnavailableError` when the store must answer and cannot. */
  limit(request: RateLimitRequest, background: Background): Promise<RateLimitDecision>;
  /** Gives back one request admitted by `limit` that was refused for another reason (the org's aggregate). Best effort. */
  refund(request: RateLimitRequest, background: Background): void;
}

/**
 * Local spend an isolate may have that the store has not yet acknowledged: 5% of the limit, at
 * least 1. It is also the most the isolate reports in one background write.
 */
export function fastBatchSize(limit: number): number {
  return Math.max(1, Math.floor(limit / 20));
}

/** Below this many remaining requests (10% of the limit, at least one batch) every request asks the store. */
export function fastSyncThreshold(limit: number): number {
  return Math.max(fastBatchSize(limit), Math.ceil(limit / 10));
}

/** Identifiers whose local budget an isolate keeps; the oldest is dropped (after reporting its spend) beyond this. */
const MAX_BUDGETS = 10_000;

/**
 * How long a small amount of unsent spend waits for more to share its report. Spent in waitUntil,
 * never in a response; it delays only when other isolates hear of the spend, not the bound (unsent
 * spend counts against the local budget like spend in flight).
 */
export const REPORT_DELAY_MS = 50;
/** A waiting report that has not woken by then is presumed lost with its request, and replaced. */
const REPORT_OVERDUE_MS = 5_000;

interface Budget {
  request: RateLimitRequest;
  /** The store's window (`floor(t / windowMs)`) at its last answer. */
  windowIndex: number;
  /** The store's remaining budget at its last answer. */
  known: number;
  /** Admitted here, not yet sent to the store. */
  unsent: number;
  /** Sent to the store, not yet acknowledged. */
  inflight: number;
  /** When a report waiting for more spend wakes (0: none waiting). */
  reportWakesAt: number;
}

/**
 * The two consistency modes over one store.
 *
 * `strict`: every request is decided by the store (atomically there), so an identifier is never
 * admitted past its limit, whatever the concurrency.
 *
 * `fast`: an isolate that has recently heard the store's remaining budget for an identifier admits
 * from that budget on its own, without a round trip, and reports what it admitted in the background:
 * one write in flight per identifier, sent once half a batch is waiting or `REPORT_DELAY_MS` after
 * the first unsent admission, whichever comes first, so a busy key costs the store one write per
 * half batch or per delay, not one per request. It asks the store
 * synchronously when it has no fresh answer (first request, new window), when the budget it knows
 * drops to `fastSyncThreshold(limit)` or below, or when `fastBatchSize(limit)` admissions are still
 * unacknowledged.
 *
 * Overshoot bound: at every instant an isolate holds at most B = `fastBatchSize(limit)` =
 * max(1, floor(limit / 20)) admissions the store has not counted, and every other admission was
 * decided by the store against a count that includes everything already reported (reports are added
 * unconditionally). So the requests a sliding window holds for an identifier never exceed
 * `limit + B × I`, where I is the number of isolates serving that identifier in fast mode at the
 * time; one isolate (or `wrangler dev`) overshoots by at most B. The price is that locally admitted
 * requests may be counted a moment late by other isolates. `test/ratelimit/fast_mode.test.ts`
 * drives several independent budgets (stand-ins for isolates) into the worst case and checks it.
 */
export function consistentLimiter(store: RateLimiter): ConsistentLimiter {
  const budgets = new Map<string, Budget>();

  /**
   * Sends the budget's unsent spend, then whatever was admitted while it was in flight, until none is
   * left. One write in flight per budget: a report that finds one in flight leaves the rest to it.
   * A remainder under half a batch first waits `REPORT_DELAY_MS` for company.
   */
  async function report(budget: Budget): Promise<void> {
    while (budget.unsent > 0 && budget.inflight === 0) {
      const count = budget.unsent;
      budget.unsent = 0;
      budget.inflight = count;
      try {
        remember(budget, await store.record(budget.request, count));
      } catch (err) {
        // Still unacknowledged: it keeps counting against the local budget and goes with the next report.
        budget.unsent += count;
        console.warn(`keygate: reporting fast-mode spend for ${budget.request.identifier} failed: ${err instanceof Error ? err.message : "error"}`);
        return;
      } finally {
        budget.inflight = 0;
      }
      if (budget.unsent > 0 && !halfBatchWaiting(budget)) {
        if (!claimWait(budget, Date.now())) return;
        await waitForCompany(budget);
      }
    }
  }

  /** After a local admission or a store answer: sends the unsent spend now, after a wait, or leaves it to the report in flight. */
  function reportSoon(budget: Budget, background: Background, now: number): void {
    if (budget.unsent === 0 || budget.inflight > 0) return;
    if (halfBatchWaiting(budget)) return background.waitUntil(report(budget));
    if (claimWait(budget, now)) background.waitUntil(waitForCompany(budget).then(() => report(budget)));
  }

  /** Only one report waits per budget; one overdue by `REPORT_OVERDUE_MS` is presumed lost and replaced. */
  function claimWait(budget: Budget, now: number): boolean {
    if (budget.reportWakesAt !== 0 && now < budget.reportWakesAt + REPORT_OVERDUE_MS) return false;
    budget.reportWakesAt = now + REPORT_DELAY_MS;
    return true;
  }

  async function waitForCompany(budget: Budget): Promise<void> {
    await new Promise((resolve) => setTimeout(resolve, REPORT_DELAY_MS));
    budget.reportWakesAt = 0;
  }

  function budgetFor(request: RateLimitRequest, background: Background): Budget {
    let budget = budgets.get(request.identifier);
    if (budget && budget.request.limit === request.limit && budget.request.windowMs === request.windowMs) return budget;
    if (budget && budget.unsent > 0 && budget.inflight === 0) background.waitUntil(report(budget));
    budget = { request, windowIndex: -1, known: 0, unsent: 0, inflight: 0, reportWakesAt: 0 };
    budgets.delete(request.identifier);
    budgets.set(request.identifier, budget);
    if (budgets.size > MAX_BUDGETS) {
      const [oldestId, oldest] = budgets.entries().next().value!;
      budgets.delete(oldestId);
      if (oldest.unsent > 0 && oldest.inflight === 0) background.waitUntil(report(oldest));
    }
    return budget;
  }

  async function fast(request: RateLimitRequest, background: Background): Promise<RateLimitDecision> {
    const now = Date.now();
    const budget = budgetFor(request, background);
    const index = Math.floor(now / request.windowMs);
    const unacknowledged = budget.unsent + budget.inflight;
    if (budget.windowIndex === index && unacknowledged < fastBatchSize(request.limit) && budget.known - unacknowledged > fastSyncThreshold(request.limit)) {
      budget.unsent++;
      reportSoon(budget, background, now);
      return { allowed: true, limit: request.limit, remaining: budget.known - budget.unsent - budget.inflight, resetAt: (index + 1) * request.windowMs, retryAt: now };
    }
    const decision = await store.limit(request);
    remember(budget, decision);
    reportSoon(budget, background, now);
    const remaining = Math.max(0, decision.remaining - budget.unsent - budget.inflight);
    return remaining === decision.remaining ? decision : { ...decision, remaining };
  }

  return {
    limit: (request, background) => (request.mode === "fast" ? fast(request, background) : store.limit(request)),

    refund(request, background) {
      const budget = request.mode === "fast" ? budgets.get(request.identifier) : undefined;
      if (budget && budget.unsent > 0) {
        budget.unsent--;
        return;
      }
      background.waitUntil(
        store.record(request, -1).then(
          () => undefined,
          () => undefined, // a lost refund only makes the limit slightly stricter
        ),
      );
    },
  };
}

function halfBatchWaiting(budget: Budget): boolean {
  return budget.unsent * 2 >= fastBatchSize(budget.request.limit);
}

function remember(budget: Budget, decision: RateLimitDecision): void {
  budget.windowIndex = Math.round(decision.resetAt / budget.request.windowMs) - 1;
  budget.known = decision.remaining;
}
