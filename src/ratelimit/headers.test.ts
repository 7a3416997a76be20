import { describe, expect, it } from "vitest";
import type { Policy, PolicyDecision } from "./counters";
import { rateLimitHeaders, secondsUntil } from "./headers";

const NOW = 1_700_000_000_000;
const win = (name: string, limit: number, windowMs: number): Policy => ({ name, kind: "window", limit, windowMs });
const decision = (policy: Policy, remaining: number, resetInMs: number, allowed = true): PolicyDecision => ({
  name: policy.name,
  kind: policy.kind,
  limit: policy.limit,
  allowed,
  remaining,
  resetAt: NOW + resetInMs,
});

describe("rate limit headers", () => {
  it("states the key's policy and what is left in the IETF draft's syntax and the X-RateLimit trio", () => {
    const p = win("default", 60, 60_000);
    expect(rateLimitHeaders([p], [decision(p, 12, 29_500)], NOW)).toEqual({
      "RateLimit-Policy": '"default";q=60;w=60',
      RateLimit: '"default";r=12;t=30',
      "X-RateLimit-Limit": "60",
      "X-RateLimit-Remaining": "12",
      "X-RateLimit-Reset": "30",
    });
  });

  it("lists every policy, a monthly quota with 30 days, and reports the one with least left in X-RateLimit-*", () => {
    const burst = win("burst", 10, 1_000);
    const sustained = win("default", 600, 60_000);
    const quota: Policy = { name: "quota", kind: "quota", limit: 100_000, period: "month" };
    const headers = rateLimitHeaders([burst, sustained, quota], [decision(burst, 9, 1_000), decision(sustained, 7, 10_000), decision(quota, 99_000, 86_400_000)], NOW);
    expect(headers["RateLimit-Policy"]).toBe('"burst";q=10;w=1, "default";q=600;w=60, "quota";q=100000;w=2592000');
    expect(headers.RateLimit).toBe('"burst";r=9;t=1, "default";r=7;t=10, "quota";r=99000;t=86400');
    expect(headers["X-RateLimit-Limit"]).toBe("600");
    expect(headers["X-RateLimit-Remaining"]).toBe("7");
    expect(headers["Retry-After"]).toBeUndefined();
  });

  it("on a refusal: the refusing policy that admits last, with Retry-After, its t= and X-RateLimit-Reset the same number", () => {
    const burst = win("burst", 10, 1_000);
    const sustained = win("default", 20, 60_000);
    const org = win("org", 30, 60_000);
    const headers = rateLimitHeaders([burst, sustained, org], [decision(burst, 0, 400, false), decision(sustained, 0, 41_200, false), decision(org, 0, 5_000)], NOW);
    expect(headers["X-RateLimit-Limit"]).toBe("20");
    expect(headers["Retry-After"]).toBe("42");
    expect(headers["X-RateLimit-Reset"]).toBe("42");
    expect(headers.RateLimit).toContain('"default";r=0;t=42');
    expect(headers.RateLimit).toContain('"burst";r=0;t=1');
  });

  it("never tells a refused client to retry in 0 s, and a cost that never fits waits a whole span", () => {
    const p = win("default", 5, 10_000);
    expect(rateLimitHeaders([p], [decision(p, 0, 0, false)], NOW)["Retry-After"]).toBe("1");
    expect(rateLimitHeaders([p], [{ ...decision(p, 5, 0, false), resetAt: Infinity }], NOW)["Retry-After"]).toBe("10");
  });

  it("sends only the policies when the store could not answer", () => {
    expect(rateLimitHeaders([win("default", 60, 90_500)], undefined, NOW)).toEqual({
      "RateLimit-Policy": '"default";q=60;w=91',
      "X-RateLimit-Limit": "60",
    });
  });

  it("rounds seconds up so a client that waits that long is never early, and never below zero", () => {
    expect(secondsUntil(NOW + 1, NOW)).toBe(1);
    expect(secondsUntil(NOW + 1_000, NOW)).toBe(1);
    expect(secondsUntil(NOW + 1_001, NOW)).toBe(2);
    expect(secondsUntil(NOW - 5_000, NOW)).toBe(0);
  });
});
