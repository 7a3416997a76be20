// enforceRateLimit's choices of limit and mode, with real configs and both real stores.
import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { KeygateError } from "../../src/errors";
import { enforceRateLimit } from "../support/isolate";
import { fastBatchSize } from "../../src/ratelimit/consistency";
import { BEFORE_MONTH_END, frozenClock } from "../clock";
import { BACKENDS, configFor, keyRecord } from "./harness";

/** Fires `n` requests for `record` at once; how many were admitted (every refusal must be rate_limited). */
async function burst(config: ReturnType<typeof configFor>, record: ReturnType<typeof keyRecord>, n: number): Promise<number> {
  const ctx = createExecutionContext();
  const outcomes = await Promise.all(
    Array.from({ length: n }, () =>
      enforceRateLimit({ config, env, ctx, record }).then(
        () => true,
        (err: unknown) => {
          if (!(err instanceof KeygateError) || err.code !== "rate_limited") throw err;
          return false;
        },
      ),
    ),
  );
  await waitOnExecutionContext(ctx);
  return outcomes.filter(Boolean).length;
}

describe.each(BACKENDS)("enforceRateLimit over $name", (backend) => {
  it("admits exactly a strict tier's limit under a concurrent burst", async () => {
    const config = configFor(backend.name, { TIERS: { free: { limit: 50, window: "60s", mode: "strict" } } });
    expect(await burst(config, keyRecord(), 200)).toBe(50);
  });

  it("lets a key's rate_limit.mode override its tier's: strict on a fast tier stays exact", async () => {
    const config = configFor(backend.name, { TIERS: { free: { limit: 50, window: "60s", mode: "fast" } } });
    expect(await burst(config, keyRecord({ rateLimit: { limit: 50, window: 60_000, mode: "strict" } }), 200)).toBe(50);
  });

  it("keeps a fast tier within its limit plus one batch under a concurrent burst", async () => {
    const config = configFor(backend.name, { TIERS: { free: { limit: 50, window: "60s", mode: "fast" } } });
    const admitted = await burst(config, keyRecord(), 200);
    expect(admitted).toBeGreaterThanOrEqual(50);
    expect(admitted).toBeLessThanOrEqual(50 + fastBatchSize(50));
  });
});

describe("enforceRateLimit's limits", () => {
  it("refuses a key whose tier is not in TIERS with 403 tier_unavailable, naming no config, with or without its own limits", async () => {
    const config = configFor("durable-object");
    for (const rateLimit of [null, { limit: 2, window: 1_000 }]) {
      const err = await enforceRateLimit({ config, env, ctx: createExecutionContext(), record: keyRecord({ tier: "gone", rateLimit }) }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(KeygateError);
      expect((err as KeygateError).code).toBe("tier_unavailable");
      expect((err as KeygateError).status).toBe(403);
      expect((err as KeygateError).message).not.toContain("gone");
      expect((err as KeygateError).message).not.toContain("TIERS");
    }
  });

  it("counts the org aggregate over the tier's window even when the key has its own", async () => {
    const config = configFor("durable-object", { TIERS: { free: { limit: 5, window: "60s", org_limit: 8 } } });
    const headers = await enforceRateLimit({ config, env, ctx: createExecutionContext(), record: keyRecord({ rateLimit: { limit: 3, window: 10_000 } }) });
    expect(headers["RateLimit-Policy"]).toBe('"default";q=3;w=10, "org";q=8;w=60');
    expect(headers["X-RateLimit-Limit"]).toBe("3");
    expect(headers["X-RateLimit-Remaining"]).toBe("2");
  });

  it("answers quota_exceeded over the quota and rate_limited over a window, naming the violated policies", async () => {
    // On a frozen clock, 30 s into a minute: the 1 s burst must not turn over between the calls, and the
    // quota's Retry-After is more than 1 s only while midnight is more than a second away.
    frozenClock();
    const config = configFor("durable-object", { TIERS: { free: { limits: [{ name: "burst", limit: 2, window: "1s" }, { name: "default", limit: 100, window: "60s" }], quota: { limit: 3, period: "day" } } } });
    const record = keyRecord();
    const ctx = createExecutionContext();
    const refusal = (cost: number) => enforceRateLimit({ config, env, ctx, record, cost }).then(() => null, (e: unknown) => e as KeygateError);
    expect(await refusal(1)).toBeNull();
    expect(await refusal(1)).toBeNull();
    const burst = (await refusal(1))!;
    expect(burst.code).toBe("rate_limited");
    expect(burst.details).toEqual([{ field: "policies", message: "burst" }]);
    expect(burst.headers?.["Retry-After"]).toBe(burst.headers?.["X-RateLimit-Reset"]);
    expect(burst.headers?.RateLimit).toContain(`"burst";r=0;t=${burst.headers?.["Retry-After"]}`);
    const quota = (await refusal(2))!;
    expect(quota.code).toBe("quota_exceeded");
    expect(quota.status).toBe(429);
    expect(quota.details?.map((d) => d.message)).toContain("quota");
    expect(quota.headers?.["Retry-After"]).toBe(quota.headers?.["X-RateLimit-Reset"]);
    expect(Number(quota.headers?.["Retry-After"])).toBeGreaterThan(1);
    await waitOnExecutionContext(ctx);
  });

  it("at 23:59:59.900 UTC the daily quota's Retry-After is the 1 s to midnight, and after midnight the key is admitted again", async () => {
    const clock = frozenClock(BEFORE_MONTH_END);
    const config = configFor("durable-object", { TIERS: { free: { limit: 100, window: "60s", quota: { limit: 2, period: "day" } } } });
    const record = keyRecord();
    const ctx = createExecutionContext();
    const refusal = () => enforceRateLimit({ config, env, ctx, record }).then(() => null, (e: unknown) => e as KeygateError);
    expect(await refusal()).toBeNull();
    expect(await refusal()).toBeNull();
    const quota = (await refusal())!;
    expect(quota.code).toBe("quota_exceeded");
    expect(quota.headers?.["Retry-After"]).toBe("1");
    expect(quota.headers?.RateLimit).toContain('"quota";r=0;t=1');
    // 00:00:00.000: a new day's quota. The isolate repeats a refusal for up to 1 s, but never past the
    // moment the store said the cost fits again: this request asks the store and is admitted.
    clock.advance(100);
    expect(await refusal()).toBeNull();
    await waitOnExecutionContext(ctx);
  });

  it("routes with a cost spend it on every window", async () => {
    const config = configFor("durable-object", { TIERS: { free: { limit: 10, window: "60s", quota: { limit: 100, period: "month" } } } });
    const headers = await enforceRateLimit({ config, env, ctx: createExecutionContext(), record: keyRecord(), cost: 4 });
    expect(headers.RateLimit).toMatch(/^"default";r=6;t=\d+, "quota";r=96;t=\d+$/);
  });
});
