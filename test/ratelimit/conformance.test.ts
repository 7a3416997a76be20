// One behaviour, two stores: every backend must pass every test here against its real store
// (a Durable Object per limiter scope; redis-server behind the Upstash REST bridge).
import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { KeygateError } from "../../src/errors";
import { enforceRateLimit } from "../support/isolate";
import type { RateLimiter } from "../../src/ratelimit/interface";
import type { LimitPlan } from "../../src/ratelimit/policy";
import { BEFORE_MONTH_END, frozenClock, midMinute } from "../clock";
import { BACKENDS, configFor, keyRecord, planOf, quotaPolicy, uniqueId, windowPolicy } from "./harness";

/** Sends `n` requests one after the other; how many were admitted. */
async function admitted(store: RateLimiter, plan: LimitPlan, n: number, cost = 1): Promise<number> {
  let count = 0;
  for (let i = 0; i < n; i++) if ((await store.limit(plan, cost)).allowed) count++;
  return count;
}

describe.each(BACKENDS)("rate limiter conformance: $name", (backend) => {
  const store = backend.limiter();

  it("admits exactly the limit of N sequential requests and denies the rest", async () => {
    const plan = planOf(uniqueId(), [windowPolicy(7)]);
    const decisions = [];
    for (let i = 0; i < 12; i++) decisions.push((await store.limit(plan, 1)).allowed);
    expect(decisions).toEqual([...Array(7).fill(true), ...Array(5).fill(false)]);
  });

  it("counts remaining down to zero and says when a unit comes back", async () => {
    const plan = planOf(uniqueId(), [windowPolicy(3, 60_000)]);
    const before = Date.now();
    const remaining = [];
    for (let i = 0; i < 4; i++) remaining.push((await store.limit(plan, 1)).policies[0]!.remaining);
    expect(remaining).toEqual([2, 1, 0, 0]);
    const denied = await store.limit(plan, 1);
    expect(denied.allowed).toBe(false);
    // The first admission's 6 s bucket leaves the window 60 s after it ends.
    expect(denied.policies[0]!.resetAt).toBeGreaterThan(before + 60_000);
    expect(denied.policies[0]!.resetAt).toBeLessThanOrEqual(Date.now() + 66_000);
  });

  it("decides several windows and a quota in one call: all must have room, all are spent", async () => {
    frozenClock(); // the 1 s burst window must not turn over between the calls (a slow machine took > 1 s)
    const plan = planOf(uniqueId(), [windowPolicy(3, 1_000, "burst"), windowPolicy(5, 60_000, "default"), quotaPolicy(100)]);
    const first = await store.limit(plan, 1);
    expect(first.policies.map((p) => [p.name, p.remaining])).toEqual([
      ["burst", 2],
      ["default", 4],
      ["quota", 99],
    ]);
    expect(await admitted(store, plan, 5)).toBe(2);
    const denied = await store.limit(plan, 1);
    expect(denied.policies.filter((p) => !p.allowed).map((p) => p.name)).toEqual(["burst"]);
    expect(denied.policies.map((p) => p.remaining)).toEqual([0, 2, 97]);
  });

  it("counts a route's cost against every window and the quota", async () => {
    frozenClock(); // no month end between the calls
    const plan = planOf(uniqueId(), [windowPolicy(10), quotaPolicy(12)]);
    expect((await store.limit(plan, 5)).policies.map((p) => p.remaining)).toEqual([5, 7]);
    expect((await store.limit(plan, 5)).policies.map((p) => p.remaining)).toEqual([0, 2]);
    const denied = await store.limit(plan, 5);
    expect(denied.allowed).toBe(false);
    expect(denied.policies.map((p) => p.allowed)).toEqual([false, false]);
    expect((await store.peek(plan, 1)).policies.map((p) => p.remaining)).toEqual([0, 2]);
  });

  it("counts a monthly quota across the period boundary (clock injected)", async () => {
    const clock = frozenClock(Date.UTC(2031, 0, 31, 23, 59, 58));
    const plan = planOf(uniqueId(), [windowPolicy(1_000, 60_000), quotaPolicy(3)]);
    expect(await admitted(store, plan, 5)).toBe(3);
    const denied = await store.limit(plan, 1);
    expect(denied.policies[1]).toMatchObject({ name: "quota", allowed: false, remaining: 0, resetAt: Date.UTC(2031, 1, 1) });
    clock.set(Date.UTC(2031, 1, 1, 0, 0, 0, 5));
    expect(await admitted(store, plan, 5)).toBe(3);
    expect((await store.peek(plan, 1)).policies.map((p) => p.remaining)).toEqual([1_000 - 6, 0]);
  });

  it("at 23:59:59.900 on a month's last day: a daily quota and a 1 s window fill up, and only the quota starts over at midnight", async () => {
    const clock = frozenClock(BEFORE_MONTH_END);
    const plan = planOf(uniqueId(), [windowPolicy(4, 1_000, "burst"), quotaPolicy(3, "day")]);
    expect(await admitted(store, plan, 5)).toBe(3);
    const denied = await store.limit(plan, 1);
    expect(denied.policies.map((p) => [p.name, p.allowed, p.remaining])).toEqual([
      ["burst", true, 1],
      ["quota", false, 0],
    ]);
    expect(denied.policies[1]!.resetAt).toBe(BEFORE_MONTH_END + 100);
    clock.advance(150); // 00:00:00.050: a new day (and month); the burst window still holds the three
    expect(await admitted(store, plan, 5)).toBe(1);
    expect((await store.peek(plan, 1)).policies.map((p) => [p.name, p.remaining])).toEqual([
      ["burst", 0],
      ["quota", 2],
    ]);
  });

  it("a window that changes length keeps what was spent under the old one, and gives it back one new window later, as its reset says", async () => {
    const clock = frozenClock(midMinute());
    const scope = uniqueId();
    // The same counter id at three lengths, as a key whose window a PATCH lengthened and then shortened.
    const sized = (windowMs: number): LimitPlan => ({ ...planOf(scope, []), counters: [{ id: "k:root:default", policy: windowPolicy(5, windowMs) }] });
    expect(await admitted(store, sized(60_000), 3)).toBe(3);
    expect(await admitted(store, sized(120_000), 5)).toBe(2);
    expect((await store.peek(sized(120_000), 1)).policies[0]!.remaining).toBe(0);

    const refused = await store.limit(sized(30_000), 1);
    expect(refused.policies[0]).toMatchObject({ allowed: false, remaining: 0 });
    const fits = refused.policies[0]!.resetAt;
    expect(fits).toBeGreaterThan(clock.now() + 30_000);
    expect(fits).toBeLessThanOrEqual(clock.now() + 33_000);
    clock.set(fits - 1);
    expect(await admitted(store, sized(30_000), 1)).toBe(0);
    clock.set(fits);
    expect(await admitted(store, sized(30_000), 6)).toBe(5);
  });

  it("admits exactly 50 of a concurrent burst of 200 in strict mode (cost 1), and exactly 10 at cost 5", async () => {
    const plan = planOf(uniqueId(), [windowPolicy(50)]);
    const decisions = await Promise.all(Array.from({ length: 200 }, () => store.limit(plan, 1)));
    expect(decisions.filter((d) => d.allowed)).toHaveLength(50);
    const costly = planOf(uniqueId(), [windowPolicy(50), quotaPolicy(1_000)]);
    const fives = await Promise.all(Array.from({ length: 200 }, () => store.limit(costly, 5)));
    expect(fives.filter((d) => d.allowed)).toHaveLength(10);
  });

  it("keeps separate scopes apart", async () => {
    const a = planOf(uniqueId(), [windowPolicy(4)]);
    const b = planOf(uniqueId(), [windowPolicy(4)]);
    expect(await admitted(store, a, 6)).toBe(4);
    expect(await admitted(store, b, 6)).toBe(4);
    expect((await store.limit(a, 1)).allowed).toBe(false);
  });

  it("counts spend recorded from elsewhere and never refunds below zero", async () => {
    const reported = planOf(uniqueId(), [windowPolicy(5)]);
    expect(await store.record(reported, 5)).toMatchObject({ allowed: true, policies: [{ remaining: 0 }] });
    expect((await store.limit(reported, 1)).allowed).toBe(false);
    expect(await store.record(reported, 2)).toMatchObject({ allowed: false, policies: [{ remaining: 0 }] });

    const refunded = planOf(uniqueId(), [windowPolicy(5)]);
    await store.record(refunded, -3);
    expect(await admitted(store, refunded, 8)).toBe(5);
  });

  it("peeks without spending", async () => {
    frozenClock(); // no UTC midnight between the spend and the peeks (the daily quota would start over)
    const plan = planOf(uniqueId(), [windowPolicy(5), quotaPolicy(50, "day")]);
    await store.limit(plan, 2);
    const a = await store.peek(plan, 1);
    const b = await store.peek(plan, 1);
    expect(a.policies.map((p) => p.remaining)).toEqual([3, 48]);
    expect(b.policies.map((p) => p.remaining)).toEqual([3, 48]);
  });

  it("lets a key's own limits override its tier's", async () => {
    const config = configFor(backend.name, { TIERS: { free: { limit: 3, window: "60s" } } });
    const ctx = createExecutionContext();
    const enforce = async (record: ReturnType<typeof keyRecord>, n: number) => {
      let count = 0;
      for (let i = 0; i < n; i++) {
        try {
          await enforceRateLimit({ config, env, ctx, record });
          count++;
        } catch (err) {
          expect(err).toBeInstanceOf(KeygateError);
          expect((err as KeygateError).code).toBe("rate_limited");
        }
      }
      return count;
    };
    expect(await enforce(keyRecord({ rateLimit: { limit: 6, window: 60_000 } }), 9)).toBe(6);
    expect(await enforce(keyRecord({ rateLimit: { limits: [{ name: "default", limit: 4, window: 60_000 }] } }), 9)).toBe(4);
    expect(await enforce(keyRecord(), 9)).toBe(3);
    await waitOnExecutionContext(ctx);
  });
});
