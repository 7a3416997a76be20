/**
 * The limiter's arithmetic, pure: both backends (the Durable Object in TypeScript, Upstash in Lua)
 * keep the same counters and decide with the functions here; tests drive them with made-up clocks.
 *
 * A counter is a short list of buckets `[index, count]`:
 *
 * - A sliding **window** of W ms is cut into `WINDOW_BUCKETS` buckets of `bucketMs = ceil(W / 10)`
 *   aligned to the epoch. At `now` the counter holds every bucket that overlaps `(now - W, now]`,
 *   the oldest one in full. Those buckets cover the whole real window, so a request admitted at
 *   `now` (held + cost <= limit) leaves at most `limit` units in every real interval of W ms ending
 *   then, and so in any interval of W ms at all: **never more than `limit` in any sliding window**,
 *   exactly, whatever the arrival pattern (the property test in counters.test.ts checks it over
 *   generated arrivals). The price: a unit comes back up to one bucket (W/10) after W has passed,
 *   so a client pacing itself at exactly limit/W may see a 429 up to 10% early. It replaces the
 *   weighted two-window estimate (Cloudflare's and @upstash/ratelimit's), which admits up to
 *   2 × limit − 1 in a real interval of W (limit 3/2 s admitted 6 within 1.5 s).
 * - A **quota** counts per UTC calendar day or month: one bucket whose index is the period (days or
 *   months since 1970); it holds only the current period.
 */

export type QuotaPeriod = "day" | "month";

/** One limit a request is counted against. `name` is what headers and errors call it. */
export type Policy =
  | { name: string; kind: "window"; limit: number; windowMs: number }
  | { name: string; kind: "quota"; limit: number; period: QuotaPeriod };

/** `[bucket index, units]`, oldest first. */
export type Buckets = Array<[number, number]>;

export const WINDOW_BUCKETS = 10;
const DAY_MS = 86_400_000;

export function bucketMs(windowMs: number): number {
  return Math.max(1, Math.ceil(windowMs / WINDOW_BUCKETS));
}

/** The bucket `now` spends into. */
export function currentBucket(policy: Policy, now: number): number {
  if (policy.kind === "window") return Math.floor(now / bucketMs(policy.windowMs));
  if (policy.period === "day") return Math.floor(now / DAY_MS);
  const date = new Date(now);
  return (date.getUTCFullYear() - 1970) * 12 + date.getUTCMonth();
}

/** The oldest bucket that still counts at `now`. */
export function oldestLiveBucket(policy: Policy, now: number): number {
  if (policy.kind === "quota") return currentBucket(policy, now);
  return Math.floor((now - policy.windowMs) / bucketMs(policy.windowMs));
}

/** Epoch ms from which bucket `index` no longer counts. */
export function bucketExpiresAt(policy: Policy, index: number): number {
  if (policy.kind === "window") return (index + 1) * bucketMs(policy.windowMs) + policy.windowMs;
  if (policy.period === "day") return (index + 1) * DAY_MS;
  return Date.UTC(1970 + Math.floor((index + 1) / 12), (index + 1) % 12, 1);
}

/** Seconds the policy spans, for `RateLimit-Policy`'s `w=`: the window, or the period's nominal length (30 days for a month). */
export function policySeconds(policy: Policy): number {
  if (policy.kind === "window") return Math.max(1, Math.ceil(policy.windowMs / 1000));
  return policy.period === "day" ? 86_400 : 30 * 86_400;
}

/** Drops buckets that no longer count at `now`. */
export function live(policy: Policy, buckets: Buckets, now: number): Buckets {
  const oldest = oldestLiveBucket(policy, now);
  return buckets.every(([index]) => index >= oldest) ? buckets : buckets.filter(([index]) => index >= oldest);
}

export function held(buckets: Buckets): number {
  let sum = 0;
  for (const [, count] of buckets) sum += count;
  return sum;
}

/**
 * Adds `units` (negative: gives back, never below zero in total, newest buckets first) to live
 * `buckets`. Returns a new list and never changes `buckets` or its pairs: unchanged pairs are shared
 * with the input (a counter keeps up to 11 of them and every admission changes only the newest),
 * so no code may change a pair in place.
 */
export function spend(policy: Policy, buckets: Buckets, units: number, now: number): Buckets {
  const next: Buckets = buckets.slice();
  if (units >= 0) {
    const index = currentBucket(policy, now);
    const last = next[next.length - 1];
    if (last && last[0] >= index) next[next.length - 1] = [last[0], last[1] + units]; // a clock that stepped back keeps spending into the newest bucket
    else if (units > 0) next.push([index, units]);
    return next;
  }
  let owed = -units;
  for (let i = next.length - 1; i >= 0 && owed > 0; i--) {
    const [index, count] = next[i]!;
    const take = Math.min(owed, count);
    next[i] = [index, count - take];
    owed -= take;
  }
  return next.filter(([, count]) => count > 0);
}

/**
 * The first instant (>= now) at which `cost` more units fit if nothing else is spent: buckets
 * expire oldest first. Infinity when `cost` exceeds the limit itself.
 */
export function admitsAt(policy: Policy, buckets: Buckets, cost: number, now: number): number {
  if (cost > policy.limit) return Infinity;
  let over = held(buckets) + cost - policy.limit;
  if (over <= 0) return now;
  for (const [index, count] of buckets) {
    over -= count;
    if (over <= 0) return Math.max(now, bucketExpiresAt(policy, index));
  }
  return now; // unreachable: dropping every bucket leaves cost <= limit
}

/** When the next unit comes back (the oldest live bucket expires), or `now` when nothing is held. */
export function nextReturnAt(policy: Policy, buckets: Buckets, now: number): number {
  const oldest = buckets.find(([, count]) => count > 0);
  return oldest ? bucketExpiresAt(policy, oldest[0]) : now;
}

/**
 * A window counter's buckets for `policy` when they were counted for a window of `countedForMs`
 * (a key's window lengthened or shortened; its counter keeps its id, so that spend is not forgotten:
 * a fresh counter per length let a key buy a new window's budget with every PATCH). Bucket indices
 * of another length mean other instants, so what is still live under the old length is carried
 * over as spent now, in the current bucket: it counts for one whole new window, so no interval ever
 * holds more than the limit, at the price of a key that changes its window waiting up to one window
 * longer. Quotas and unchanged windows come back as they are.
 */
export function carryOver(policy: Policy, buckets: Buckets, countedForMs: number | undefined, now: number): Buckets {
  if (policy.kind !== "window" || countedForMs === undefined || countedForMs === policy.windowMs) return buckets;
  const before = held(live({ ...policy, windowMs: countedForMs }, buckets, now));
  return before > 0 ? [[currentBucket(policy, now), before]] : [];
}

/** What one policy says about one request. */
export interface PolicyDecision {
  name: string;
  kind: Policy["kind"];
  limit: number;
  allowed: boolean;
  remaining: number;
  /** Epoch ms: when a denied request of the same cost fits again; when allowed, when the next unit comes back. */
  resetAt: number;
}

export interface Decision {
  allowed: boolean;
  policies: PolicyDecision[];
  /** The counters after the decision (live buckets only), in the order of the policies. */
  counters: Buckets[];
}

export type Operation = "check" | "record" | "peek";

/**
 * One request against all of a key's policies at once. `check` spends `cost` on every counter when
 * every policy has room for it and nothing otherwise; `record` adds `cost` (fast mode's reports;
 * negative: refunds) whatever the counters hold; `peek` spends nothing.
 */
export function decide(policies: readonly Policy[], counters: readonly (Buckets | undefined)[], cost: number, now: number, operation: Operation): Decision {
  const before = policies.map((policy, i) => live(policy, counters[i] ?? [], now));
  const fits = policies.map((policy, i) => held(before[i]!) + cost <= policy.limit);
  const admitted = fits.every(Boolean);
  const spends = operation === "record" || (operation === "check" && admitted);
  const after = spends ? policies.map((policy, i) => spend(policy, before[i]!, cost, now)) : before;
  const decisions = policies.map((policy, i): PolicyDecision => {
    const counter = after[i]!;
    const remaining = Math.max(0, policy.limit - held(counter));
    if (operation === "record") {
      const within = held(counter) <= policy.limit;
      return { name: policy.name, kind: policy.kind, limit: policy.limit, allowed: within, remaining, resetAt: within ? nextReturnAt(policy, counter, now) : admitsAt(policy, counter, 1, now) };
    }
    const allowed = operation === "peek" ? fits[i]! : admitted || fits[i]!;
    const resetAt = fits[i] ? nextReturnAt(policy, counter, now) : admitsAt(policy, counter, cost, now);
    return { name: policy.name, kind: policy.kind, limit: policy.limit, allowed, remaining, resetAt };
  });
  return { allowed: operation === "record" ? decisions.every((d) => d.allowed) : admitted, policies: decisions, counters: after };
}
