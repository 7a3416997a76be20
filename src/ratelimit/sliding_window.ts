/**
 * Sliding-window counter, the arithmetic Cloudflare and @upstash/ratelimit use: time is cut into fixed
 * windows aligned to the epoch, each identifier keeps two counters (this window, the previous one), and
 * the previous window counts with the weight of the part of it that still lies inside the sliding window:
 *
 *   estimate = floor(previous × (windowMs − elapsed) / windowMs) + current
 *
 * A request is admitted while `estimate < limit`. Two integers per identifier, O(1) per decision, and
 * never more than `limit` admissions in any sliding window as long as every admission goes through here.
 * Pure: the Durable Object backend runs it, the Upstash backend runs the same rule in Lua, tests run it
 * with made-up clocks.
 */

export interface WindowCounts {
  /** `floor(t / windowMs)` of the window `current` counts. */
  index: number;
  current: number;
  previous: number;
}

export interface SlidingWindowDecision {
  /** The counts after the decision; unchanged (but moved to `now`'s window) when denied. */
  counts: WindowCounts;
  allowed: boolean;
  remaining: number;
  /** Epoch ms at which the current fixed window ends. */
  resetAt: number;
  /** Epoch ms from which a request would be admitted if nothing else is spent; `now` when it already would. */
  retryAt: number;
}

/** The counts as seen from `now`: a new window starts empty and inherits the last one as `previous`. */
export function advance(counts: WindowCounts | undefined, windowMs: number, now: number): WindowCounts {
  const index = Math.floor(now / windowMs);
  if (!counts || index > counts.index + 1) return { index, current: 0, previous: 0 };
  if (index === counts.index + 1) return { index, current: 0, previous: counts.current };
  // Same window, or a clock that stepped back: keep every unit already spent.
  return counts;
}

/** Units the sliding window holds at `now` (counts must already be advanced to `now`). */
export function estimate(counts: WindowCounts, windowMs: number, now: number): number {
  const elapsed = Math.min(Math.max(now - counts.index * windowMs, 0), windowMs);
  return Math.floor((counts.previous * (windowMs - elapsed)) / windowMs) + counts.current;
}

/** Admits `cost` units when the window holds fewer than `limit`; a denied request spends nothing. */
export function consume(counts: WindowCounts | undefined, limit: number, windowMs: number, now: number, cost = 1): SlidingWindowDecision {
  const at = advance(counts, windowMs, now);
  const allowed = estimate(at, windowMs, now) < limit;
  const next = allowed ? { index: at.index, current: at.current + cost, previous: at.previous } : at;
  return summarize(next, allowed, limit, windowMs, now);
}

/**
 * Adds units that were admitted elsewhere (fast mode's local admissions) whatever the count, or gives
 * units back when `count` is negative (never below zero). `allowed` tells whether the window is still
 * within the limit afterwards.
 */
export function record(counts: WindowCounts | undefined, limit: number, windowMs: number, now: number, count: number): SlidingWindowDecision {
  const at = advance(counts, windowMs, now);
  const next = { index: at.index, current: Math.max(0, at.current + count), previous: at.previous };
  return summarize(next, estimate(next, windowMs, now) <= limit, limit, windowMs, now);
}

function summarize(counts: WindowCounts, allowed: boolean, limit: number, windowMs: number, now: number): SlidingWindowDecision {
  return {
    counts,
    allowed,
    remaining: Math.max(0, limit - estimate(counts, windowMs, now)),
    resetAt: (counts.index + 1) * windowMs,
    retryAt: earliestAdmission(counts, limit, windowMs, now),
  };
}

/**
 * The first instant (epoch ms, >= now) at which `estimate < limit` if nothing more is spent: the previous
 * window's weight decays linearly, so it is found by solving
 * `previous × (windowMs − elapsed) < (limit − current) × windowMs` for the smallest whole `elapsed`.
 */
export function earliestAdmission(counts: WindowCounts, limit: number, windowMs: number, now: number): number {
  const at = advance(counts, windowMs, now);
  if (estimate(at, windowMs, now) < limit) return now;
  const start = at.index * windowMs;
  if (at.current < limit) {
    // Here previous > 0, otherwise the estimate would be current < limit.
    return start + firstElapsed(at.previous, limit - at.current, windowMs);
  }
  // This window alone is full: wait for the next one, where it becomes the decaying `previous`.
  return start + windowMs + firstElapsed(at.current, limit, windowMs);
}

/** Smallest whole elapsed e in [0, windowMs] with floor(weighted × (windowMs − e) / windowMs) < room (room >= 1). */
function firstElapsed(weighted: number, room: number, windowMs: number): number {
  if (weighted < room) return 0;
  return windowMs - Math.ceil((room * windowMs) / weighted) + 1;
}
