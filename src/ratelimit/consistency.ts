import type { PolicyDecision } from "./counters";
import { hasEnded, type LimitAnswer, type RateLimiter } from "./interface";
import type { LimitPlan } from "./policy";

/** The part of an `ExecutionContext` background work needs. */
export type Background = Pick<ExecutionContext, "waitUntil">;

export interface ConsistentLimiter {
  /** Decides one request of `cost` units in the plan's mode; throws `RateLimiterUnavailableError` when the store must answer and cannot. */
  limit(plan: LimitPlan, cost: number, background: Background): Promise<LimitAnswer>;
  /** The store itself, for reads and notifications. */
  readonly store: RateLimiter;
}

/**
 * Local spend an isolate may have that the store has not yet acknowledged: 5% of the limit, at
 * least 1. It is also the most the isolate reports in one background write.
 */
export function fastBatchSize(limit: number): number {
  return Math.max(1, Math.floor(limit / 20));
}

/** Below this many remaining units (10% of the limit, at least one batch) every request asks the store. */
export function fastSyncThreshold(limit: number): number {
  return Math.max(fastBatchSize(limit), Math.ceil(limit / 10));
}

/** Budgets an isolate keeps; the oldest is dropped (after reporting its spend) beyond this. */
const MAX_BUDGETS = 10_000;

/**
 * How long a small amount of unsent spend waits for more to share its report. Spent in waitUntil,
 * never in a response; it delays only when other isolates hear of the spend, not the bound (unsent
 * spend counts against the local budget like spend in flight). It is also how late a key in use
 * hears of its revocation: the report's answer carries it.
 */
export const REPORT_DELAY_MS = 50;
/** A waiting report that has not woken by then is presumed lost with its request, and replaced. */
const REPORT_OVERDUE_MS = 5_000;

interface Budget {
  plan: LimitPlan;
  /** `plan.counters`' ids, limits and windows, to notice a changed plan for the same key. */
  signature: string;
  /** `fastBatchSize` of the plan's smallest limit, and each counter's `fastSyncThreshold`: fixed per plan, so computed once. */
  batch: number;
  thresholds: number[];
  /** The store's remaining units per counter at its last answer. */
  known: number[];
  /** The store's last answer, whose policies describe local admissions. */
  last?: LimitAnswer;
  /** Admitted here, not yet sent to the store (units). */
  unsent: number;
  /** Sent to the store, not yet acknowledged (units). */
  inflight: number;
  /** When a report waiting for more spend wakes (0: none waiting). */
  reportWakesAt: number;
  /** The store's last refusal, repeated locally until `until` for requests of the same `cost` (the same answer the store would give). */
  denied?: { until: number; cost: number; answer: LimitAnswer };
}

/**
 * How long an isolate repeats a refusal without asking the store again: a key hammering at 429 costs
 * at most one store call per second per isolate (instead of one per request), and a limit raised
 * meanwhile is seen within a second. Never past the moment the store said the cost fits again.
 */
export const DENIAL_REUSE_MS = 1_000;

/**
 * The two consistency modes over one store.
 *
 * `strict`: every request is one call to the store, decided there atomically across all of the
 * key's counters, so no policy is ever exceeded, whatever the concurrency.
 *
 * `fast`: an isolate that has recently heard the store's remaining budget for a key admits from
 * that budget on its own, with no round trip, and reports what it admitted in the background: one
 * write in flight per key, sent once half a batch is waiting or `REPORT_DELAY_MS` after the first
 * unsent admission. It asks the store synchronously when it has no answer yet (first request in
 * this isolate, or the key's plan changed), when any counter's remaining would drop to
 * `fastSyncThreshold(limit)`, or when a batch of units is still unacknowledged.
 *
 * Overshoot bound: an isolate holds at most B = `fastBatchSize(smallest limit)` units the store
 * has not counted, and every other admission was decided by the store against counts that include
 * everything already reported (reports are added unconditionally). So each counter holds at most
 * `limit + B × I` units, I being the isolates serving the key in fast mode at the time.
 * `test/ratelimit/fast_mode.test.ts` drives several budgets (stand-ins for isolates) into the worst case.
 *
 * In both modes a refusal is repeated locally for up to `DENIAL_REUSE_MS` (never past the moment the
 * store said the cost fits again), so a key hammering at 429 does not hammer the store.
 *
 * Every store answer may carry `ended` (the key was revoked) or `changedAt` (the key changed after
 * the record this isolate holds): the budget keeps it, and every later request on the key in this
 * isolate is refused at once, or sent to reread its record.
 */
export function consistentLimiter(store: RateLimiter): ConsistentLimiter {
  const budgets = new Map<string, Budget>();
  // A plan's budget name and signature, built once per plan object (plans are cached per key record).
  const names = new WeakMap<LimitPlan, { name: string; signature: string }>();

  async function report(budget: Budget): Promise<void> {
    while (budget.unsent > 0 && budget.inflight === 0) {
      const count = budget.unsent;
      budget.unsent = 0;
      budget.inflight = count;
      try {
        remember(budget, await store.record(budget.plan, count));
      } catch (err) {
        // Still unacknowledged: it keeps counting against the local budget and goes with the next report.
        budget.unsent += count;
        console.warn(`keygate: reporting fast-mode spend for ${budget.plan.scope} failed: ${err instanceof Error ? err.message : "error"}`);
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

  function reportSoon(budget: Budget, background: Background, now: number): void {
    if (budget.unsent === 0 || budget.inflight > 0) return;
    if (halfBatchWaiting(budget)) return background.waitUntil(report(budget));
    if (claimWait(budget, now)) background.waitUntil(waitForCompany(budget).then(() => report(budget)));
  }

  function claimWait(budget: Budget, now: number): boolean {
    if (budget.reportWakesAt !== 0 && now < budget.reportWakesAt + REPORT_OVERDUE_MS) return false;
    budget.reportWakesAt = now + REPORT_DELAY_MS;
    return true;
  }

  async function waitForCompany(budget: Budget): Promise<void> {
    await new Promise((resolve) => setTimeout(resolve, REPORT_DELAY_MS));
    budget.reportWakesAt = 0;
  }

  function budgetFor(plan: LimitPlan, background: Background): Budget {
    let named = names.get(plan);
    if (!named) {
      named = { name: `${plan.scope}|${plan.keyId}`, signature: plan.counters.map((c) => `${c.id}=${c.policy.limit}/${c.policy.kind === "window" ? c.policy.windowMs : c.policy.period}`).join(",") };
      names.set(plan, named);
    }
    const { name, signature } = named;
    let budget = budgets.get(name);
    if (budget && budget.signature === signature) return budget;
    if (budget && budget.unsent > 0 && budget.inflight === 0) background.waitUntil(report(budget));
    const batch = fastBatchSize(Math.min(...plan.counters.map((c) => c.policy.limit)));
    const thresholds = plan.counters.map((c) => fastSyncThreshold(c.policy.limit));
    budget = { plan, signature, batch, thresholds, known: [], unsent: 0, inflight: 0, reportWakesAt: 0, last: budget?.last?.ended || budget?.last?.changedAt ? budget.last : undefined };
    budgets.delete(name);
    budgets.set(name, budget);
    if (budgets.size > MAX_BUDGETS) {
      const [oldestName, oldest] = budgets.entries().next().value!;
      budgets.delete(oldestName);
      if (oldest.unsent > 0 && oldest.inflight === 0) background.waitUntil(report(oldest));
    }
    return budget;
  }

  // A remembered `known` only gets more conservative with time (buckets expire, periods reset; only
  // other isolates' spend lowers it, which is the stated overshoot), so it is used until the next
  // answer replaces it: no resync when a bucket turns over.
  function localAdmission(budget: Budget, cost: number): boolean {
    const { known, thresholds } = budget;
    if (!budget.last || known.length !== thresholds.length) return false;
    const unacknowledged = budget.unsent + budget.inflight + cost;
    if (unacknowledged > budget.batch) return false;
    for (let i = 0; i < thresholds.length; i++) {
      if (known[i]! - unacknowledged < thresholds[i]!) return false;
    }
    return true;
  }

  async function fast(plan: LimitPlan, cost: number, budget: Budget, background: Background, now: number): Promise<LimitAnswer> {
    if (budget.last?.ended && hasEnded(budget.last.ended, now)) return budget.last;
    if (budget.last?.changedAt !== undefined && plan.version < budget.last.changedAt) return budget.last;
    if (localAdmission(budget, cost)) {
      budget.unsent += cost;
      reportSoon(budget, background, now);
      const spent = budget.unsent + budget.inflight;
      const policies = budget.last!.policies;
      // Written out rather than `{ ...p }`: this runs for every request a fast key admits locally.
      const decisions: PolicyDecision[] = new Array(policies.length);
      for (let i = 0; i < policies.length; i++) {
        const { name, kind, limit, resetAt } = policies[i]!;
        decisions[i] = { name, kind, limit, allowed: true, remaining: Math.max(0, budget.known[i]! - spent), resetAt };
      }
      return { allowed: true, policies: decisions };
    }
    const answer = await store.limit(plan, cost);
    remember(budget, answer);
    reportSoon(budget, background, now);
    const pending = budget.unsent + budget.inflight;
    return pending === 0 ? answer : { ...answer, policies: answer.policies.map((p) => ({ ...p, remaining: Math.max(0, p.remaining - pending) })) };
  }

  return {
    store,
    async limit(plan, cost, background) {
      const now = Date.now();
      const budget = budgetFor(plan, background);
      const denied = budget.denied;
      if (denied && now < denied.until && cost === denied.cost) return denied.answer;
      const answer = plan.mode === "fast" ? await fast(plan, cost, budget, background, now) : await store.limit(plan, cost);
      budget.denied = denialOf(answer, cost, now);
      return answer;
    },
  };
}

/** A plain refusal (not an ended or changed key), to repeat until the earliest moment every refusing policy fits the cost again. */
function denialOf(answer: LimitAnswer, cost: number, now: number): Budget["denied"] {
  if (answer.allowed || answer.ended || answer.changedAt !== undefined) return undefined;
  let fits = now;
  for (const policy of answer.policies) if (!policy.allowed) fits = Math.max(fits, policy.resetAt);
  return { until: Math.min(fits, now + DENIAL_REUSE_MS), cost, answer };
}

function halfBatchWaiting(budget: Budget): boolean {
  return budget.unsent * 2 >= budget.batch;
}

function remember(budget: Budget, answer: LimitAnswer): void {
  budget.known = answer.policies.map((p) => p.remaining);
  budget.last = answer;
}
