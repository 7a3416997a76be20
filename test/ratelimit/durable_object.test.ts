// The Durable Object backend's own promises: counts survive eviction, dead counts are cleaned up,
// and nonsense arguments are refused rather than stored.
import { evictDurableObject, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { strictReserve } from "../../src/ratelimit/durable_object";
import { sleep, uniqueId } from "./harness";

const stubFor = (identifier: string) => env.RATE_LIMITER.get(env.RATE_LIMITER.idFromName(identifier));
const storedWindows = (stub: ReturnType<typeof stubFor>) =>
  runInDurableObject(stub, (_, state) => state.storage.sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM window_counts").one().n);

describe("RateLimiterObject", () => {
  it("keeps its counts across an eviction", async () => {
    const stub = stubFor(uniqueId());
    for (let i = 0; i < 3; i++) expect((await stub.check(5, 60_000)).allowed).toBe(true);
    await evictDurableObject(stub);
    const after = [];
    for (let i = 0; i < 4; i++) after.push((await stub.check(5, 60_000)).allowed);
    expect(after).toEqual([true, true, false, false]);
  });

  it("never admits past its limit after an eviction, and loses at most one reservation less one", async () => {
    const stub = stubFor(uniqueId());
    const limit = 200; // strictReserve(200) = 2: one write covers two admissions
    for (let i = 0; i < 151; i++) expect((await stub.check(limit, 60_000)).allowed).toBe(true);
    await evictDurableObject(stub);
    let admitted = 0;
    while ((await stub.check(limit, 60_000)).allowed) admitted++;
    expect(admitted).toBeLessThanOrEqual(limit - 151);
    expect(admitted).toBeGreaterThanOrEqual(limit - 151 - (strictReserve(limit) - 1));
  });

  it("writes once per reservation, not once per admission", async () => {
    const stub = stubFor(uniqueId());
    const limit = 1_000; // strictReserve(1000) = 10
    for (let i = 0; i < 5; i++) await stub.check(limit, 60_000);
    const rows = await runInDurableObject(stub, (_, state) => state.storage.sql.exec<{ current: number }>("SELECT current FROM window_counts").toArray());
    expect(rows).toEqual([{ current: strictReserve(limit) }]);
    expect((await stub.check(limit, 60_000)).remaining).toBe(limit - 6);
  });

  it("keeps separate counters for separate window lengths", async () => {
    const stub = stubFor(uniqueId());
    expect((await stub.check(1, 60_000)).allowed).toBe(true);
    expect((await stub.check(1, 60_000)).allowed).toBe(false);
    expect((await stub.check(1, 30_000)).allowed).toBe(true);
  });

  it("writes nothing for a denial", async () => {
    const stub = stubFor(uniqueId());
    await stub.check(1, 60_000);
    await stub.check(1, 60_000);
    const rows = await runInDurableObject(stub, (_, state) => state.storage.sql.exec<{ current: number }>("SELECT current FROM window_counts").toArray());
    expect(rows).toEqual([{ current: 1 }]);
  });

  it("drops counts from its storage once both windows have decayed, by its own alarm", async () => {
    const stub = stubFor(uniqueId());
    const windowMs = 200;
    await stub.check(5, windowMs);
    expect(await storedWindows(stub)).toBe(1);
    const deadline = Date.now() + 5_000;
    while ((await storedWindows(stub)) > 0 && Date.now() < deadline) await sleep(100);
    expect(await storedWindows(stub)).toBe(0);
    expect((await stub.check(5, windowMs)).remaining).toBe(4);
  });

  it("keeps counts that still weigh when its alarm runs", async () => {
    const stub = stubFor(uniqueId());
    await stub.check(5, 60_000);
    expect(await runDurableObjectAlarm(stub)).toBe(true);
    expect(await storedWindows(stub)).toBe(1);
    expect((await stub.check(5, 60_000)).remaining).toBe(3);
  });

  it("refuses limits and windows that are not positive integers", async () => {
    const stub = stubFor(uniqueId());
    const refusal = (call: Promise<unknown>) => call.then(() => "admitted", (err: unknown) => String(err));
    expect(await refusal(stub.check(0, 60_000))).toMatch(/RangeError: limit and windowMs must be positive integers/);
    expect(await refusal(stub.check(5, 0.5))).toMatch(/RangeError: limit and windowMs must be positive integers/);
    expect(await refusal(stub.record(5, 60_000, 1.5))).toMatch(/RangeError: count must be an integer/);
  });
});
