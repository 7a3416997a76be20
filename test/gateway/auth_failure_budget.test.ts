// The hot path's answers before a key is known (401s, 400 conflicting_credentials, 429
// too_many_auth_failures) carry the calling address's failed-authentication budget, as the
// management API's do: a client told 429 learns from RateLimit / X-RateLimit-* when it may retry.
import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { failureBucket } from "../../src/auth/failure_limit";
import worker from "../../src/index";
import { frozenClock, midMinute } from "../clock";
import { ORIGIN } from "../harness";
import { seedKey, unknownKey } from "./seed";

const vars = { ...env, AUTH_FAILURE_LIMIT: "5/60s" } as typeof env;
let sourceCounter = 0;
const run = crypto.getRandomValues(new Uint16Array(2));
// Its own /64 each: AUTH_FAILURE_LIMIT counts an IPv6 client by its /64.
const freshSource = () => `2001:${run[0]!.toString(16)}:${run[1]!.toString(16)}:9${(++sourceCounter).toString(16)}::1`;

async function call(path: string, headers: Record<string, string>): Promise<Response> {
  const ctx = createExecutionContext();
  const res = await worker.fetch(new Request(ORIGIN + path, { headers }), vars, ctx);
  await waitOnExecutionContext(ctx);
  return res;
}

async function code(res: Response): Promise<string> {
  return ((await res.json()) as { error: { code: string } }).error.code;
}

describe("gateway answers before a key is known carry the source's failed-authentication budget", () => {
  it("each 401 counts down the budget, and the 429 says when it resets in Retry-After, RateLimit and X-RateLimit-Reset alike", async () => {
    frozenClock(midMinute());
    const source = freshSource();
    const { key } = await seedKey({ scopes: ["demo:read"] });
    for (let i = 0; i < 5; i++) {
      const res = await call("/demo/items", { "x-api-key": unknownKey(), "cf-connecting-ip": source });
      expect(res.status).toBe(401);
      expect(await code(res)).toBe("invalid_key");
      expect(res.headers.get("www-authenticate")).toContain("Bearer");
      expect(res.headers.get("ratelimit-policy")).toBe('"auth_failures";q=5;w=60');
      expect(res.headers.get("x-ratelimit-limit")).toBe("5");
      expect(res.headers.get("x-ratelimit-remaining")).toBe(String(4 - i));
    }
    const refused = await call("/demo/items", { "x-api-key": key, "cf-connecting-ip": source });
    expect(refused.status).toBe(429);
    expect(await code(refused)).toBe("too_many_auth_failures");
    const retryAfter = refused.headers.get("retry-after");
    expect(Number(retryAfter)).toBeGreaterThan(0);
    expect(refused.headers.get("ratelimit")).toBe(`"auth_failures";r=0;t=${retryAfter}`);
    expect(refused.headers.get("x-ratelimit-remaining")).toBe("0");
    expect(refused.headers.get("x-ratelimit-reset")).toBe(retryAfter);
  });

  it("a malformed key and conflicting credentials carry it too", async () => {
    const source = freshSource();
    const malformed = await call("/demo/items", { "x-api-key": "kg_garbage", "cf-connecting-ip": source });
    expect(malformed.status).toBe(401);
    expect(malformed.headers.get("ratelimit-policy")).toBe('"auth_failures";q=5;w=60');
    const conflicting = await call("/demo/items", { "x-api-key": unknownKey(), authorization: `Bearer ${unknownKey()}`, "cf-connecting-ip": source });
    expect(conflicting.status).toBe(400);
    expect(await code(conflicting)).toBe("conflicting_credentials");
    expect(conflicting.headers.get("x-ratelimit-limit")).toBe("5");
  });
});

describe("AUTH_FAILURE_LIMIT counts an IPv6 client by its /64", () => {
  it("rotating through addresses of one /64 does not escape the limit; another /64 is its own", async () => {
    frozenClock(midMinute());
    const prefix = freshSource().replace(/::1$/, "");
    const { key } = await seedKey({ scopes: ["demo:read"] });
    // Five failures from five addresses of the same /64, spelled in different ways.
    for (const host of ["::1", "::2", ":0:0:0:3", "::abcd:4", "::ffff:ffff:5"]) {
      expect((await call("/demo/items", { "x-api-key": unknownKey(), "cf-connecting-ip": prefix + host })).status).toBe(401);
    }
    const refused = await call("/demo/items", { "x-api-key": key, "cf-connecting-ip": prefix + "::77" });
    expect(refused.status).toBe(429);
    expect(await code(refused)).toBe("too_many_auth_failures");
    // A neighbouring /64 is someone else.
    expect((await call("/demo/items", { "x-api-key": key, "cf-connecting-ip": freshSource() })).status).toBe(200);
  });

  it("failureBucket: IPv4 as is, IPv4-mapped as its IPv4, IPv6 as its /64, anything else as sent", () => {
    expect(failureBucket("203.0.113.7")).toBe("203.0.113.7");
    expect(failureBucket("::ffff:203.0.113.7")).toBe("203.0.113.7");
    expect(failureBucket("2001:db8:1:2:3:4:5:6")).toBe("2001:db8:1:2::/64");
    expect(failureBucket("2001:DB8:1:2::9")).toBe("2001:db8:1:2::/64");
    expect(failureBucket("2001:db8::1")).toBe("2001:db8:0:0::/64");
    expect(failureBucket("unknown")).toBe("unknown");
    expect(failureBucket("fe80::1%eth0")).toBe("fe80::1%eth0");
  });
});
