// Fast mode trades exactness for round trips: these check the trade stays within its stated bound
// (consistency.ts: at most fastBatchSize(limit) per isolate) on both real stores.
import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { consistentLimiter, fastBatchSize, fastSyncThreshold } from "../../src/ratelimit/consistency";
import type { RateLimiter } from "../../src/ratelimit/interface";
import type { LimitPlan } from "../../src/ratelimit/policy";
import { BACKENDS, planOf, uniqueId, windowPolicy } from "./harness";

const request = (identifier: string, limit: number, mode: "fast" | "strict"): LimitPlan => planOf(identifier, [windowPolicy(limit)], { mode });

/** The real store, with its round trips counted (every call goes through to it). */
function counted(store: RateLimiter): RateLimiter & { limitCalls: number } {
  const wrapper = {
    limitCalls: 0,
    limit: (plan: LimitPlan, cost: number) => {
      wrapper.limitCalls++;
      return store.limit(plan, cost);
    },
    record: (plan: LimitPlan, count: number) => store.record(plan, count),
    peek: (plan: LimitPlan, cost: number) => store.peek(plan, cost),
    endKey: store.endKey,
    keyChanged: store.keyChanged,
  };
  return wrapper;
}

describe("fast mode's batch and threshold", () => {
  it("lets an isolate hold at most 5% of the limit unreported and asks the store below 10% left", () => {
    expect([fastBatchSize(600), fastSyncThreshold(600)]).toEqual([30, 60]);
    expect([fastBatchSize(100), fastSyncThreshold(100)]).toEqual([5, 10]);
    expect([fastBatchSize(10), fastSyncThreshold(10)]).toEqual([1, 1]);
  });
});

describe.each(BACKENDS)("fast mode over $name", (backend) => {
  it("overshoots by at most one batch in one isolate, and reports everything it admitted", async () => {
    const store = backend.limiter();
    const limit = 100;
    const fast = request(uniqueId(), limit, "fast");
    const isolate = consistentLimiter(store);
    const ctx = createExecutionContext();
    let admitted = 0;
    for (let i = 0; i < 3 * limit; i++) if ((await isolate.limit(fast, 1, ctx)).allowed) admitted++;
    await waitOnExecutionContext(ctx);

    expect(admitted).toBeGreaterThanOrEqual(limit);
    expect(admitted).toBeLessThanOrEqual(limit + fastBatchSize(limit));
    // Everything admitted locally reached the store in the background. Read through a plan with a larger
    // limit on the same counter (its id is scope, name and window), so the count above the limit shows too.
    const seen = await store.record(request(fast.scope, limit, "strict"), 0);
    expect(limit - seen.policies[0]!.remaining).toBeGreaterThanOrEqual(Math.min(admitted, limit));
    const held = await store.peek(request(fast.scope, 10 * limit, "strict"), 1);
    expect(10 * limit - held.policies[0]!.remaining).toBe(admitted);
  });

  it("decides the bulk of a key's traffic locally while well under the limit", async () => {
    const store = counted(backend.limiter());
    const limit = 200;
    const fast = request(uniqueId(), limit, "fast");
    const isolate = consistentLimiter(store);
    const ctx = createExecutionContext();
    for (let i = 0; i < 100; i++) expect((await isolate.limit(fast, 1, ctx)).allowed).toBe(true);
    await waitOnExecutionContext(ctx);
    expect(store.limitCalls).toBeLessThan(50);
    expect((await store.record(request(fast.scope, limit, "strict"), 0)).policies[0]!.remaining).toBe(limit - 100);
  });

  it("four isolates with stale budgets overshoot a limit of 100 by exactly one batch each: 120 admitted (README's worst case), then all refuse", async () => {
    const store = backend.limiter();
    const limit = 100;
    const batch = fastBatchSize(limit);
    const identifier = uniqueId();
    const isolates = Array.from({ length: 4 }, () => consistentLimiter(store));
    const ctx = createExecutionContext();
    let admitted = 0;

    // Every isolate hears from the store while the budget is plentiful...
    for (const isolate of isolates) if ((await isolate.limit(request(identifier, limit, "fast"), 1, ctx)).allowed) admitted++;
    // ...then strict traffic elsewhere spends the rest, which the isolates do not see...
    while ((await store.limit(request(identifier, limit, "strict"), 1)).allowed) admitted++;
    // ...and each isolate keeps admitting from the budget it remembers: the worst case.
    for (const isolate of isolates) {
      for (let i = 0; i < 3 * batch; i++) if ((await isolate.limit(request(identifier, limit, "fast"), 1, ctx)).allowed) admitted++;
    }
    await waitOnExecutionContext(ctx);

    expect(admitted).toBeGreaterThan(limit); // the overshoot is real...
    expect(admitted).toBeLessThanOrEqual(limit + isolates.length * batch); // ...and bounded
    // ...and the bound is reached, not just respected: each isolate spends exactly its batch (README: "120 admitted
    // for a limit of 100"). Deterministic: local admissions need no I/O, so no report is acknowledged between them.
    expect(batch).toBe(5);
    expect(admitted).toBe(120);
    // Once reported, the store refuses everyone.
    expect((await store.record(request(identifier, limit, "strict"), 0)).allowed).toBe(false);
    for (const isolate of isolates) expect((await isolate.limit(request(identifier, limit, "fast"), 1, ctx)).allowed).toBe(false);
  });

  it("strict mode never overshoots under a concurrent burst", async () => {
    const isolate = consistentLimiter(backend.limiter());
    const strict = request(uniqueId(), 50, "strict");
    const ctx = createExecutionContext();
    const decisions = await Promise.all(Array.from({ length: 200 }, () => isolate.limit(strict, 1, ctx)));
    expect(decisions.filter((d) => d.allowed)).toHaveLength(50);
  });
});
