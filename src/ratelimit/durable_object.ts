import { DurableObject } from "cloudflare:workers";
import type { Env } from "../env";
import type { RateLimitDecision } from "./interface";
import { advance, consume, record, type SlidingWindowDecision, type WindowCounts } from "./sliding_window";

interface CountsRow extends Record<string, number> {
  window_ms: number;
  window_index: number;
  current: number;
  previous: number;
}

/**
 * One object per identifier (`idFromName("key:<id>")`): the sliding-window counter of that identifier,
 * for the zero-configuration backend. A Durable Object delivers one event at a time and every method
 * here runs without awaiting, so each decision is atomic without locks; concurrent requests for one
 * key queue at its object and are decided one after the other.
 *
 * The counts live in memory for speed. Storage holds a reservation ahead of them: when an admission
 * takes `current` past what is stored, the object writes `current + strictReserve(limit) - 1`
 * before answering (the output gate holds the answer until the write is durable), so the next
 * admissions up to that ceiling need no write. After an eviction or restart the object resumes from
 * the stored ceiling, as if the whole reservation had been spent: it may refuse up to
 * `strictReserve(limit) - 1` requests (1% of the limit) that would have fitted, but never forgets spend,
 * so it never admits past the limit. A denial changes nothing and writes nothing; neither does a
 * refund (counts only go down, and the stored ceiling still covers them).
 */
export class RateLimiterObject extends DurableObject<Env> {
  /** Keyed by window length: a key whose override changes its window starts a fresh counter. */
  private readonly counts = new Map<number, WindowCounts>();
  /** What storage holds per window length: never below `counts` once advanced to the same instant. */
  private readonly stored = new Map<number, WindowCounts>();
  /** When the cleanup alarm is due, as far as this instance knows (0: not set by this instance). */
  private alarmAt = 0;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    ctx.storage.sql.exec(
      "CREATE TABLE IF NOT EXISTS window_counts (window_ms INTEGER PRIMARY KEY, window_index INTEGER NOT NULL, current INTEGER NOT NULL, previous INTEGER NOT NULL)",
    );
    for (const row of ctx.storage.sql.exec<CountsRow>("SELECT window_ms, window_index, current, previous FROM window_counts")) {
      const counts = { index: row.window_index, current: row.current, previous: row.previous };
      this.counts.set(row.window_ms, counts);
      this.stored.set(row.window_ms, counts);
    }
  }

  /** Counts one request if the window has room for it (see `consume`). */
  check(limit: number, windowMs: number): RateLimitDecision {
    assertWindow(limit, windowMs);
    const now = Date.now();
    const decision = consume(this.counts.get(windowMs), limit, windowMs, now);
    if (decision.allowed) this.save(windowMs, decision.counts, limit, now);
    return toDecision(decision, limit);
  }

  /** Adds requests admitted elsewhere, or gives back requests with a negative count (see `record`). */
  record(limit: number, windowMs: number, count: number): RateLimitDecision {
    assertWindow(limit, windowMs);
    if (!Number.isSafeInteger(count)) throw new RangeError("count must be an integer");
    const now = Date.now();
    const decision = record(this.counts.get(windowMs), limit, windowMs, now, count);
    this.save(windowMs, decision.counts, limit, now);
    return toDecision(decision, limit);
  }

  /** Drops counters whose windows have fully decayed, so a key that stopped calling leaves no storage behind. */
  override async alarm(): Promise<void> {
    const now = Date.now();
    let nextDue = 0;
    for (const [windowMs, counts] of this.counts) {
      const deadAt = (counts.index + 2) * windowMs;
      if (deadAt <= now) {
        this.ctx.storage.sql.exec("DELETE FROM window_counts WHERE window_ms = ?", windowMs);
        this.counts.delete(windowMs);
        this.stored.delete(windowMs);
      } else {
        nextDue = nextDue === 0 ? deadAt : Math.min(nextDue, deadAt);
      }
    }
    this.alarmAt = nextDue;
    if (nextDue > 0) await this.ctx.storage.setAlarm(nextDue);
  }

  /**
   * Writes a new reservation when storage no longer covers `counts` (storage first: if the write
   * throws, memory keeps the old counts and the caller sees the error), then keeps `counts`.
   */
  private save(windowMs: number, counts: WindowCounts, limit: number, now: number): void {
    if (!covers(this.stored.get(windowMs), counts, windowMs, now)) {
      const reserved = { index: counts.index, current: counts.current + strictReserve(limit) - 1, previous: counts.previous };
      this.ctx.storage.sql.exec(
        "INSERT INTO window_counts (window_ms, window_index, current, previous) VALUES (?, ?, ?, ?) ON CONFLICT (window_ms) DO UPDATE SET window_index = excluded.window_index, current = excluded.current, previous = excluded.previous",
        windowMs,
        reserved.index,
        reserved.current,
        reserved.previous,
      );
      this.stored.set(windowMs, reserved);
    }
    this.counts.set(windowMs, counts);
    // Counts are dead two windows after their own; one alarm write per window at most.
    const deadAt = (counts.index + 2) * windowMs;
    if (this.alarmAt < deadAt) {
      this.alarmAt = deadAt;
      void this.ctx.storage.setAlarm(Math.max(deadAt, now + 1));
    }
  }
}

/**
 * Admissions one storage write reserves: 1% of the limit, at least 1 (a write per admission). It is
 * also the most an eviction can cost an identifier: up to this many minus one admissions that fitted.
 */
export function strictReserve(limit: number): number {
  return Math.max(1, Math.floor(limit / 100));
}

/** Whether resuming from `stored` would count at least `counts` (both seen from `now`). */
function covers(stored: WindowCounts | undefined, counts: WindowCounts, windowMs: number, now: number): boolean {
  if (!stored) return false;
  const at = advance(stored, windowMs, now);
  return at.index === counts.index && at.current >= counts.current && at.previous >= counts.previous;
}

function assertWindow(limit: number, windowMs: number): void {
  if (!Number.isSafeInteger(limit) || limit <= 0 || !Number.isSafeInteger(windowMs) || windowMs <= 0) {
    throw new RangeError("limit and windowMs must be positive integers");
  }
}

function toDecision(decision: SlidingWindowDecision, limit: number): RateLimitDecision {
  return { allowed: decision.allowed, limit, remaining: decision.remaining, resetAt: decision.resetAt, retryAt: decision.retryAt };
}
