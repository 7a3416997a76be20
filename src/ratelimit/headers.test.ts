import { describe, expect, it } from "vitest";
import { rateLimitHeaders, secondsUntil } from "./headers";
import type { RateLimitDecision } from "./interface";

const NOW = 1_700_000_000_000;
const decision = (remaining: number, resetInMs: number, allowed = true): RateLimitDecision => ({
  allowed,
  limit: 0,
  remaining,
  resetAt: NOW + resetInMs,
  retryAt: allowed ? NOW : NOW + resetInMs,
});

describe("rate limit headers", () => {
  it("states the key's policy and what is left in the IETF draft's syntax and the X-RateLimit trio", () => {
    expect(rateLimitHeaders([{ name: "default", limit: 60, windowMs: 60_000, decision: decision(12, 29_500) }], NOW)).toEqual({
      "RateLimit-Policy": '"default";q=60;w=60',
      RateLimit: '"default";r=12;t=30',
      "X-RateLimit-Limit": "60",
      "X-RateLimit-Remaining": "12",
      "X-RateLimit-Reset": "30",
    });
  });

  it("lists the org aggregate as a second policy and reports the tighter one in X-RateLimit-*", () => {
    const headers = rateLimitHeaders(
      [
        { name: "default", limit: 600, windowMs: 60_000, decision: decision(500, 10_000) },
        { name: "org", limit: 3000, windowMs: 60_000, decision: decision(7, 10_000) },
      ],
      NOW,
    );
    expect(headers["RateLimit-Policy"]).toBe('"default";q=600;w=60, "org";q=3000;w=60');
    expect(headers.RateLimit).toBe('"default";r=500;t=10, "org";r=7;t=10');
    expect(headers["X-RateLimit-Limit"]).toBe("3000");
    expect(headers["X-RateLimit-Remaining"]).toBe("7");
  });

  it("reports the policy that refused, even when the other has as little left", () => {
    const headers = rateLimitHeaders(
      [
        { name: "default", limit: 10, windowMs: 1_000, decision: decision(0, 400) },
        { name: "org", limit: 20, windowMs: 1_000, decision: decision(0, 400, false) },
      ],
      NOW,
    );
    expect(headers["X-RateLimit-Limit"]).toBe("20");
    expect(headers["X-RateLimit-Reset"]).toBe("1");
  });

  it("sends only the policy when the store could not answer", () => {
    expect(rateLimitHeaders([{ name: "default", limit: 60, windowMs: 90_500 }], NOW)).toEqual({
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
