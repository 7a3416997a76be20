// RATE_LIMIT_FAILURE_MODE with the store really unavailable: the Upstash bridge stopped or stalled,
// the Durable Object throwing from its storage or held busy. The limiter itself is never faked.
import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { KeygateError } from "../../src/errors";
import { enforceRateLimit } from "../support/isolate";
import { RateLimiterUnavailableError } from "../../src/ratelimit/interface";
import { BACKENDS, keyRecord, planOf, quotaPolicy, type StoreFaults, storeFaults, uniqueId, windowPolicy } from "./harness";

async function refusal(work: Promise<unknown>): Promise<KeygateError> {
  const err = await work.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(KeygateError);
  return err as KeygateError;
}

describe.each(BACKENDS)("rate limiter failure modes: $name", (backend) => {
  let faults: StoreFaults;
  beforeEach(async () => {
    faults = await storeFaults(backend.name);
  });
  afterEach(async () => {
    vi.restoreAllMocks();
    await faults.close();
  });

  it("closed: a store that is down answers 503 rate_limiter_unavailable", async () => {
    const config = faults.config({ RATE_LIMIT_FAILURE_MODE: "closed" });
    const record = keyRecord();
    const ctx = createExecutionContext();
    await enforceRateLimit({ config, env, ctx, record });
    await faults.down(`key:${record.id}`);

    const err = await refusal(enforceRateLimit({ config, env, ctx, record }));
    expect(err.code).toBe("rate_limiter_unavailable");
    expect(err.status).toBe(503);
    expect(err.headers?.["Retry-After"]).toBe("1");
    await waitOnExecutionContext(ctx);
  });

  it("open: a store that is down admits, logs the key id and sends only the policy", async () => {
    const warn = vi.spyOn(console, "warn").mockImplementation(() => undefined);
    const config = faults.config({ RATE_LIMIT_FAILURE_MODE: "open" });
    const record = keyRecord();
    const ctx = createExecutionContext();
    await faults.down(`key:${record.id}`);

    for (let i = 0; i < 8; i++) {
      const headers = await enforceRateLimit({ config, env, ctx, record });
      expect(headers).toEqual({ "RateLimit-Policy": '"default";q=5;w=60', "X-RateLimit-Limit": "5" });
    }
    expect(warn).toHaveBeenCalledTimes(1); // not once per request: an outage must not flood the logs
    expect(String(warn.mock.calls[0]![0])).toContain(`rate limiter unavailable, admitting key:${record.id}`);
    await waitOnExecutionContext(ctx);
  });

  it("closed: a store slower than the timeout counts as unavailable, not as an admission", async () => {
    const config = faults.config({ RATE_LIMIT_FAILURE_MODE: "closed" });
    const record = keyRecord();
    const ctx = createExecutionContext();
    await enforceRateLimit({ config, env, ctx, record });
    await faults.slow(`key:${record.id}`, 1_500);

    const err = await refusal(enforceRateLimit({ config, env, ctx, record }));
    expect(err.code).toBe("rate_limiter_unavailable");
    await faults.up(`key:${record.id}`);
    await waitOnExecutionContext(ctx);
  });

  it("a limiter whose store answers later than its timeout throws RateLimiterUnavailableError", async () => {
    const identifier = uniqueId();
    const url = backend.name === "upstash" ? faults.config().upstash!.url : undefined;
    const limiter = backend.limiter({ timeoutMs: 200, url });
    const plan = planOf(identifier, [windowPolicy(5), quotaPolicy(100)]);
    expect((await limiter.limit(plan, 1)).allowed).toBe(true);
    await faults.slow(identifier, 700);

    const err = await limiter.limit(plan, 1).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RateLimiterUnavailableError);
    // A store that answers late is never an admission (nor is @upstash/ratelimit's `reason: "timeout"`, which it used to return).
    expect((err as Error).message).toMatch(/did not answer within 200 ms/);
    await faults.up(identifier);
  });

  it("counts again once the store is back", async () => {
    const config = faults.config({ RATE_LIMIT_FAILURE_MODE: "closed" });
    const record = keyRecord();
    const ctx = createExecutionContext();
    await faults.down(`key:${record.id}`);
    expect((await refusal(enforceRateLimit({ config, env, ctx, record }))).code).toBe("rate_limiter_unavailable");

    await faults.up(`key:${record.id}`);
    const headers = await enforceRateLimit({ config, env, ctx, record });
    expect(headers["X-RateLimit-Remaining"]).toMatch(/^[0-4]$/);
    expect(headers.RateLimit).toMatch(/^"default";r=\d;t=\d+$/);
    await waitOnExecutionContext(ctx);
  });
});
