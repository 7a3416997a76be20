import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { advance, consume, earliestAdmission, estimate, record, type WindowCounts } from "./sliding_window";

const W = 60_000;
const T0 = 1_700_000_040_000; // a window boundary for W

function spend(limit: number, times: number[], windowMs = W): { admitted: number; counts: WindowCounts | undefined } {
  let counts: WindowCounts | undefined;
  let admitted = 0;
  for (const now of times) {
    const decision = consume(counts, limit, windowMs, now);
    counts = decision.counts;
    if (decision.allowed) admitted++;
  }
  return { admitted, counts };
}

describe("sliding window arithmetic", () => {
  it("admits exactly the limit within one window and denies the rest", () => {
    const { admitted } = spend(5, Array.from({ length: 12 }, (_, i) => T0 + i * 1_000));
    expect(admitted).toBe(5);
  });

  it("weights the previous window by the share of it still inside the sliding window", () => {
    const counts = { index: T0 / W, current: 3, previous: 10 };
    expect(estimate(counts, W, T0)).toBe(13); // weight 1 at the start of the window
    expect(estimate(counts, W, T0 + W / 4)).toBe(10); // floor(10 × 0.75) + 3
    expect(estimate(counts, W, T0 + W / 2)).toBe(8);
    expect(estimate(counts, W, T0 + W - 1)).toBe(3); // floor(10 × 1/60000) + 3
  });

  it("moves counts forward: the next window inherits, a later one starts empty", () => {
    const counts = { index: 7, current: 4, previous: 9 };
    expect(advance(counts, 10, 75)).toBe(counts);
    expect(advance(counts, 10, 80)).toEqual({ index: 8, current: 0, previous: 4 });
    expect(advance(counts, 10, 95)).toEqual({ index: 9, current: 0, previous: 0 });
    expect(advance(undefined, 10, 95)).toEqual({ index: 9, current: 0, previous: 0 });
  });

  it("keeps spent units when the clock steps back into an earlier window", () => {
    const counts = { index: 7, current: 4, previous: 9 };
    expect(advance(counts, 10, 65)).toBe(counts);
    expect(estimate(counts, 10, 65)).toBe(13);
  });

  it("admits again as the previous window's weight decays", () => {
    const full = spend(10, Array.from({ length: 10 }, () => T0)).counts;
    expect(consume(full, 10, W, T0 + 1).allowed).toBe(false);
    // Next window: 10 previous units weigh floor(10 × (1 − e)), so half-way through 5 fit again.
    let counts = full;
    let admitted = 0;
    for (let i = 0; i < 10; i++) {
      const decision = consume(counts, 10, W, T0 + W + W / 2);
      counts = decision.counts;
      if (decision.allowed) admitted++;
    }
    expect(admitted).toBe(5);
  });

  it("reports remaining, the end of the window and when to retry", () => {
    const first = consume(undefined, 3, W, T0 + 10_000);
    expect(first).toMatchObject({ allowed: true, remaining: 2, resetAt: T0 + W, retryAt: T0 + 10_000 });
    const full = spend(3, [T0, T0, T0]).counts!;
    const denied = consume(full, 3, W, T0 + 10_000);
    expect(denied).toMatchObject({ allowed: false, remaining: 0, resetAt: T0 + W });
    // Next window: floor(3 × (W − e) / W) < 3 for any e >= 1.
    expect(denied.retryAt).toBe(T0 + W + 1);
  });

  it("records spend admitted elsewhere even past the limit, and refunds never go below zero", () => {
    const over = record(undefined, 5, W, T0, 7);
    expect(over).toMatchObject({ allowed: false, remaining: 0, counts: { current: 7 } });
    expect(record(over.counts, 5, W, T0, -2)).toMatchObject({ allowed: true, remaining: 0, counts: { current: 5 } });
    expect(record(undefined, 5, W, T0, -3).counts.current).toBe(0);
  });

  it("a denial spends nothing", () => {
    const full = spend(2, [T0, T0]).counts!;
    expect(consume(full, 2, W, T0 + 5).counts).toEqual(full);
  });
});

describe("sliding window properties", () => {
  const windowMs = fc.integer({ min: 1, max: 120_000 });
  const limit = fc.integer({ min: 1, max: 500 });
  const counts = (w: number) =>
    fc.record({ index: fc.integer({ min: 0, max: 1_000_000 }), current: fc.integer({ min: 0, max: 2_000 }), previous: fc.integer({ min: 0, max: 2_000 }) }).map((c) => ({
      counts: c,
      now: c.index * w,
    }));

  it("the estimate lies between the current count and the sum of both windows", () => {
    fc.assert(
      fc.property(windowMs, fc.integer({ min: 0, max: 2_000 }), fc.integer({ min: 0, max: 2_000 }), fc.double({ min: 0, max: 1, noNaN: true }), (w, current, previous, f) => {
        const c = { index: 10, current, previous };
        const value = estimate(c, w, 10 * w + Math.floor(f * (w - 1)));
        expect(value).toBeGreaterThanOrEqual(current);
        expect(value).toBeLessThanOrEqual(current + previous);
      }),
    );
  });

  it("no sequence of single-unit requests pushes the window past the limit", () => {
    fc.assert(
      fc.property(limit, windowMs, fc.array(fc.integer({ min: 0, max: 5_000 }), { minLength: 1, maxLength: 400 }), (l, w, gaps) => {
        let counts: WindowCounts | undefined;
        let now = T0;
        for (const gap of gaps) {
          now += gap;
          counts = consume(counts, l, w, now).counts;
          expect(estimate(counts, w, now)).toBeLessThanOrEqual(l);
        }
      }),
    );
  });

  it("at a single instant, N requests from an empty window admit min(N, limit)", () => {
    fc.assert(
      fc.property(limit, windowMs, fc.integer({ min: 0, max: 1_000 }), (l, w, n) => {
        expect(spend(l, Array.from({ length: n }, () => T0), w).admitted).toBe(Math.min(n, l));
      }),
    );
  });

  it("remaining is the room left under the limit, never negative", () => {
    fc.assert(
      fc.property(limit, windowMs.chain((w) => fc.tuple(fc.constant(w), counts(w), fc.integer({ min: 0, max: 3 * w }))), (l, [w, { counts: c, now }, later]) => {
        const at = now + later;
        const decision = consume(c, l, w, at);
        expect(decision.remaining).toBe(Math.max(0, l - estimate(decision.counts, w, at)));
      }),
    );
  });

  it("retryAt is the first millisecond at which a request would be admitted", () => {
    fc.assert(
      fc.property(limit, windowMs.chain((w) => fc.tuple(fc.constant(w), counts(w), fc.integer({ min: 0, max: w - 1 }))), (l, [w, { counts: c, now }, offset]) => {
        const at = now + offset;
        const retryAt = earliestAdmission(c, l, w, at);
        expect(retryAt).toBeGreaterThanOrEqual(at);
        expect(consume(c, l, w, retryAt).allowed).toBe(true);
        if (retryAt > at) expect(consume(c, l, w, retryAt - 1).allowed).toBe(false);
      }),
    );
  });
});
