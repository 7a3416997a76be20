import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { admitsAt, bucketExpiresAt, type Buckets, carryOver, currentBucket, decide, type Policy, policySeconds } from "./counters";

const T0 = 1_700_000_040_000; // a multiple of 60 s
const window = (limit: number, windowMs: number, name = "default"): Policy => ({ name, kind: "window", limit, windowMs });
const quota = (limit: number, period: "day" | "month" = "month"): Policy => ({ name: "quota", kind: "quota", limit, period });

/** Runs arrivals (epoch ms, ascending) through `check`; the admission times. */
function admissions(policies: Policy[], times: number[], cost = 1): number[] {
  let counters: (Buckets | undefined)[] = [];
  const admitted: number[] = [];
  for (const now of times) {
    const decision = decide(policies, counters, cost, now, "check");
    counters = decision.counters;
    if (decision.allowed) admitted.push(now);
  }
  return admitted;
}

/** The most admissions inside any real half-open interval [t, t + windowMs). */
function worstInterval(times: number[], windowMs: number): number {
  let worst = 0;
  let start = 0;
  for (let end = 0; end < times.length; end++) {
    while (times[end]! - times[start]! >= windowMs) start++;
    worst = Math.max(worst, end - start + 1);
  }
  return worst;
}

describe("bucketed sliding window", () => {
  it("never admits more than the limit in any real interval of one window, for any arrivals", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 30 }),
        fc.integer({ min: 1_000, max: 10_000 }),
        fc.array(fc.integer({ min: 0, max: 40_000 }), { minLength: 1, maxLength: 300 }),
        (limit, windowMs, offsets) => {
          const times = offsets.map((o) => T0 + o).sort((a, b) => a - b);
          expect(worstInterval(admissions([window(limit, windowMs)], times), windowMs)).toBeLessThanOrEqual(limit);
        },
      ),
      { numRuns: 300 },
    );
  });

  it("with cost c never holds more than the limit's worth of units in any interval", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 5 }), fc.array(fc.integer({ min: 0, max: 10_000 }), { maxLength: 200 }), (cost, offsets) => {
        const times = offsets.map((o) => T0 + o).sort((a, b) => a - b);
        expect(worstInterval(admissions([window(20, 2_000)], times, cost), 2_000) * cost).toBeLessThanOrEqual(20);
      }),
    );
  });

  it("the probe's pattern (limit 3 per 2 s, steady traffic) admits 3 per 2 s, not 6 in 1.5 s", () => {
    const times = Array.from({ length: 400 }, (_, i) => T0 + 123 + i * 25);
    const admitted = admissions([window(3, 2_000)], times);
    expect(worstInterval(admitted, 2_000)).toBe(3);
    // A steady client still gets its limit in each window, at most one bucket (10%) late.
    expect(admitted.length).toBeGreaterThanOrEqual(Math.floor((10_000 / 2_200) * 3));
  });

  it("gives a unit back one bucket after the window at the latest", () => {
    const policy = window(2, 10_000);
    const d1 = decide([policy], [], 1, T0 + 500, "check");
    const d2 = decide([policy], d1.counters, 1, T0 + 600, "check");
    const denied = decide([policy], d2.counters, 1, T0 + 700, "check");
    expect(denied.allowed).toBe(false);
    // Bucket of 1 s starting at T0 expires at T0 + 1 s + 10 s.
    expect(denied.policies[0]!.resetAt).toBe(T0 + 11_000);
    expect(decide([policy], d2.counters, 1, T0 + 10_999, "check").allowed).toBe(false);
    expect(decide([policy], d2.counters, 1, T0 + 11_000, "check").allowed).toBe(true);
  });

  it("denied requests spend nothing; record spends regardless and refunds never go below zero", () => {
    const policy = window(3, 60_000);
    let counters = decide([policy], [], 3, T0, "check").counters;
    expect(decide([policy], counters, 1, T0, "check").counters).toEqual(counters);
    const over = decide([policy], counters, 2, T0 + 1, "record");
    expect(over).toMatchObject({ allowed: false, policies: [{ remaining: 0 }] });
    counters = decide([policy], over.counters, -10, T0 + 2, "record").counters;
    expect(decide([policy], counters, 3, T0 + 3, "check").allowed).toBe(true);
  });
});

describe("a window that changes length (carryOver)", () => {
  it("gives no fresh budget: never more than the limit in any real interval of the shorter length that ends after the change, for any arrivals", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 20 }),
        fc.integer({ min: 1_000, max: 20_000 }),
        fc.integer({ min: 1_000, max: 20_000 }),
        fc.integer({ min: 0, max: 30_000 }),
        fc.array(fc.integer({ min: 0, max: 60_000 }), { minLength: 1, maxLength: 300 }),
        (limit, before, after, change, offsets) => {
          const times = offsets.map((o) => T0 + o).sort((a, b) => a - b);
          let counter: Buckets = [];
          let counted = before;
          const admitted: number[] = [];
          for (const now of times) {
            const policy = window(limit, now < T0 + change ? before : after);
            const decision = decide([policy], [carryOver(policy, counter, counted, now)], 1, now, "check");
            counter = decision.counters[0]!;
            counted = policy.kind === "window" ? policy.windowMs : counted;
            if (decision.allowed) admitted.push(now);
          }
          // (Spend older than the old length was already given back under it; a longer window does not take it again.)
          const span = Math.min(before, after);
          for (const end of admitted.filter((t) => t >= T0 + change)) {
            expect(admitted.filter((t) => t > end - span && t <= end).length).toBeLessThanOrEqual(limit);
          }
        },
      ),
      { numRuns: 200 },
    );
  });

  it("leaves quotas and unchanged windows alone, and carries only what still counts under the old length", () => {
    const buckets: Buckets = [[currentBucket(window(5, 60_000), T0) - 9, 2], [currentBucket(window(5, 60_000), T0), 1]];
    expect(carryOver(window(5, 60_000), buckets, 60_000, T0)).toBe(buckets);
    expect(carryOver(window(5, 60_000), buckets, undefined, T0)).toBe(buckets);
    expect(carryOver(quota(5), buckets, 60_000, T0)).toBe(buckets);
    expect(carryOver(window(5, 10_000), buckets, 60_000, T0)).toEqual([[currentBucket(window(5, 10_000), T0), 3]]);
    // 70 s later the older bucket no longer counts under 60 s; the newer one does.
    expect(carryOver(window(5, 10_000), buckets, 60_000, T0 + 59_000)).toEqual([[currentBucket(window(5, 10_000), T0 + 59_000), 1]]);
    expect(carryOver(window(5, 10_000), buckets, 60_000, T0 + 200_000)).toEqual([]);
  });
});

describe("several policies at once", () => {
  const burst = window(3, 1_000, "burst");
  const sustained = window(5, 60_000, "default");

  it("admits only when every policy has room, and then spends on all of them", () => {
    let counters: (Buckets | undefined)[] = [];
    const allowed: boolean[] = [];
    for (const t of [0, 10, 20, 30, 1_200, 1_210, 1_220, 2_500]) {
      const d = decide([burst, sustained], counters, 1, T0 + t, "check");
      counters = d.counters;
      allowed.push(d.allowed);
    }
    expect(allowed).toEqual([true, true, true, false, true, true, false, false]);
    const last = decide([burst, sustained], counters, 1, T0 + 2_500, "peek");
    expect(last.policies.map((p) => [p.name, p.allowed, p.remaining])).toEqual([
      ["burst", true, 3],
      ["default", false, 0],
    ]);
  });

  it("names exactly the violated policies and when each admits again", () => {
    const counters = decide([burst, sustained], [], 3, T0, "check").counters;
    const denied = decide([burst, sustained], counters, 3, T0 + 10, "check");
    expect(denied.allowed).toBe(false);
    expect(denied.policies.map((p) => p.allowed)).toEqual([false, false]);
    expect(denied.policies[0]!.resetAt).toBe(T0 + 1_100);
    expect(denied.policies[1]!.resetAt).toBe(T0 + 66_000); // 3 + 3 > 5 until the first 3 leave: their 6 s bucket, plus the window
    expect(admitsAt(sustained, counters[1]!, 2, T0 + 10)).toBe(T0 + 10); // 3 + 2 fits now
  });

  it("a cost above a limit never fits", () => {
    expect(decide([burst], [], 4, T0, "check").allowed).toBe(false);
    expect(admitsAt(burst, [], 4, T0)).toBe(Infinity);
  });
});

describe("calendar quotas", () => {
  it("counts per UTC month and starts afresh at the boundary", () => {
    const policy = quota(2);
    const endOfJan = Date.UTC(2027, 0, 31, 23, 59, 59, 999);
    let counters = decide([policy], [], 1, endOfJan - 10, "check").counters;
    counters = decide([policy], counters, 1, endOfJan - 5, "check").counters;
    const denied = decide([policy], counters, 1, endOfJan, "check");
    expect(denied.allowed).toBe(false);
    expect(denied.policies[0]!.resetAt).toBe(Date.UTC(2027, 1, 1));
    expect(decide([policy], counters, 1, Date.UTC(2027, 1, 1), "check").allowed).toBe(true);
  });

  it("counts per UTC day", () => {
    const policy = quota(1, "day");
    const counters = decide([policy], [], 1, Date.UTC(2027, 5, 3, 23, 0), "check").counters;
    expect(decide([policy], counters, 1, Date.UTC(2027, 5, 3, 23, 59), "check").allowed).toBe(false);
    expect(decide([policy], counters, 1, Date.UTC(2027, 5, 4), "check").allowed).toBe(true);
  });

  it("maps months across year ends", () => {
    const policy = quota(1);
    const dec = currentBucket(policy, Date.UTC(2026, 11, 15));
    expect(bucketExpiresAt(policy, dec)).toBe(Date.UTC(2027, 0, 1));
    expect(currentBucket(policy, Date.UTC(2027, 0, 1))).toBe(dec + 1);
    expect(policySeconds(policy)).toBe(2_592_000);
  });
});
