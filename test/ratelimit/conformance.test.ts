// One behaviour, two stores: every backend must pass every test here against its real store
// (a Durable Object per identifier; redis-server behind the Upstash REST bridge).
import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { KeygateError } from "../../src/errors";
import { enforceRateLimit } from "../../src/ratelimit";
import type { RateLimiter, RateLimitRequest } from "../../src/ratelimit/interface";
import { BACKENDS, configFor, keyRecord, sleepUntil, uniqueId } from "./harness";

const strict = (identifier: string, limit: number, windowMs = 60_000): RateLimitRequest => ({ identifier, limit, windowMs, mode: "strict" });

/** Sends `n` requests one after the other; how many were admitted. */
async function admitted(store: RateLimiter, request: RateLimitRequest, n: number): Promise<number> {
  let count = 0;
  for (let i = 0; i < n; i++) if ((await store.limit(request)).allowed) count++;
  return count;
}

describe.each(BACKENDS)("rate limiter conformance: $name", (backend) => {
  const store = backend.limiter();

  it("admits exactly the limit of N sequential requests and denies the rest", async () => {
    const request = strict(uniqueId(), 7);
    const decisions = [];
    for (let i = 0; i < 12; i++) decisions.push(await store.limit(request));
    expect(decisions.map((d) => d.allowed)).toEqual([...Array(7).fill(true), ...Array(5).fill(false)]);
  });

  it("counts remaining down to zero and reports the end of the current window", async () => {
    const windowMs = 60_000;
    const request = strict(uniqueId(), 3, windowMs);
    const before = Date.now();
    const remaining = [];
    for (let i = 0; i < 4; i++) remaining.push((await store.limit(request)).remaining);
    expect(remaining).toEqual([2, 1, 0, 0]);
    const denied = await store.limit(request);
    expect(denied.allowed).toBe(false);
    expect(denied.resetAt % windowMs).toBe(0);
    expect(denied.resetAt).toBeGreaterThan(before);
    expect(denied.resetAt).toBeLessThanOrEqual(before + 2 * windowMs);
    expect(denied.retryAt).toBeGreaterThan(before);
  });

  it("admits again as the previous window's weight decays", async () => {
    const windowMs = 2_000;
    const limit = 10;
    const request = strict(uniqueId(), limit, windowMs);
    const boundary = Math.ceil(Date.now() / windowMs) * windowMs;

    await sleepUntil(boundary + 50);
    expect(await admitted(store, request, limit + 3)).toBe(limit);
    // Half-way through the next window the full previous window still weighs about limit / 2.
    await sleepUntil(boundary + windowMs + windowMs / 2);
    const halfway = await admitted(store, request, limit);
    expect(halfway).toBeGreaterThan(0);
    expect(halfway).toBeLessThan(limit);
    // Two windows on, nothing is left to weigh.
    await sleepUntil(boundary + 3 * windowMs + 50);
    expect(await admitted(store, request, limit + 3)).toBe(limit);
  });

  it("admits exactly 50 of a concurrent burst of 200 in strict mode", async () => {
    const request = strict(uniqueId(), 50);
    const decisions = await Promise.all(Array.from({ length: 200 }, () => store.limit(request)));
    expect(decisions.filter((d) => d.allowed)).toHaveLength(50);
  });

  it("keeps separate identifiers apart", async () => {
    const a = strict(uniqueId(), 4);
    const b = strict(uniqueId(), 4);
    expect(await admitted(store, a, 6)).toBe(4);
    expect(await admitted(store, b, 6)).toBe(4);
    expect((await store.limit(a)).allowed).toBe(false);
  });

  it("counts spend recorded from elsewhere and never refunds below zero", async () => {
    const reported = strict(uniqueId(), 5);
    expect(await store.record(reported, 5)).toMatchObject({ allowed: true, remaining: 0 });
    expect((await store.limit(reported)).allowed).toBe(false);
    expect(await store.record(reported, 2)).toMatchObject({ allowed: false, remaining: 0 });

    const refunded = strict(uniqueId(), 5);
    await store.record(refunded, -3);
    expect(await admitted(store, refunded, 8)).toBe(5);
  });

  it("lets a key's own rate_limit override its tier's", async () => {
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
    expect(await enforce(keyRecord(), 9)).toBe(3);
    await waitOnExecutionContext(ctx);
  });
});
