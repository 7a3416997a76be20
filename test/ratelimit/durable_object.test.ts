// The Durable Object backend's own promises: counts survive eviction, dead counts are cleaned up,
// ended keys are remembered, and nonsense arguments are refused rather than stored.
import { evictDurableObject, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type { Policy } from "../../src/ratelimit/counters";
import type { LimitAnswer } from "../../src/ratelimit/interface";
import { strictReserve } from "../../src/ratelimit/durable_object";
import { decodeAnswer, wirePlan } from "../../src/ratelimit/wire";
import type { Counter } from "../../src/ratelimit/policy";
import { frozenClock } from "../clock";
import { sleep, uniqueId } from "./harness";

const stubFor = (scope: string) => env.RATE_LIMITER.get(env.RATE_LIMITER.idFromName(scope));
const storedCounters = (stub: ReturnType<typeof stubFor>) =>
  runInDurableObject(stub, (_, state) => state.storage.sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM counters").one().n);
const counter = (limit: number, windowMs = 60_000, name = "default"): Counter => ({ id: `c:${name}:${windowMs}`, policy: { name, kind: "window", limit, windowMs } });
/** One decision through the object's only decision method, in the limiter's wire form. */
const decideVia = (stub: ReturnType<typeof stubFor>, counters: Counter[], cost: number, operation: "check" | "record" | "peek", keyId: string, version = 0): Promise<LimitAnswer> =>
  stub.decideWire(wirePlan(counters), cost, operation, keyId, version).then((wire) => decodeAnswer(counters, wire));
const check = (stub: ReturnType<typeof stubFor>, counters: Counter[], keyId = "key_a") => decideVia(stub, counters, 1, "check", keyId);

describe("RateLimiterObject", () => {
  it("keeps its counts across an eviction", async () => {
    const stub = stubFor(uniqueId());
    for (let i = 0; i < 3; i++) expect((await check(stub, [counter(5)])).allowed).toBe(true);
    await evictDurableObject(stub);
    const after = [];
    for (let i = 0; i < 4; i++) after.push((await check(stub, [counter(5)])).allowed);
    expect(after).toEqual([true, true, false, false]);
  });

  it("remembers a window's length across an eviction, and an object from before it kept lengths gains the column and keeps its quota", async () => {
    const stub = stubFor(uniqueId());
    const sized = (windowMs: number): Counter => ({ id: "k:root:default", policy: { name: "default", kind: "window", limit: 5, windowMs } });
    const quota: Counter = { id: "k:root:quota:month", policy: { name: "quota", kind: "quota", limit: 10, period: "month" } };
    for (let i = 0; i < 3; i++) expect((await check(stub, [sized(60_000), quota])).allowed).toBe(true);
    await evictDurableObject(stub);
    // Lengthened after the eviction: the 3 spent under 60 s still count.
    expect((await check(stub, [sized(120_000), quota])).policies.map((p) => p.remaining)).toEqual([1, 6]);

    // An object whose table predates window_ms (its quota row is all that carries over).
    await runInDurableObject(stub, (_, state) => {
      const sql = state.storage.sql;
      sql.exec("CREATE TABLE old_counters (id TEXT PRIMARY KEY, buckets TEXT NOT NULL, dead_at INTEGER NOT NULL)");
      sql.exec("INSERT INTO old_counters SELECT id, buckets, dead_at FROM counters WHERE id = 'k:root:quota:month'");
      sql.exec("DROP TABLE counters");
      sql.exec("ALTER TABLE old_counters RENAME TO counters");
    });
    await evictDurableObject(stub);
    expect((await check(stub, [sized(60_000), quota])).policies.map((p) => p.remaining)).toEqual([4, 5]);
    const columns = await runInDurableObject(stub, (_, state) => state.storage.sql.exec<{ name: string }>("SELECT name FROM pragma_table_info('counters')").toArray().map((c) => c.name));
    expect(columns).toContain("window_ms");
  });

  it("never admits past its limit after an eviction, and loses at most one reservation less one", async () => {
    const stub = stubFor(uniqueId());
    const limit = 200; // strictReserve(200) = 2: one write covers two admissions
    for (let i = 0; i < 151; i++) expect((await check(stub, [counter(limit)])).allowed).toBe(true);
    await evictDurableObject(stub);
    let admitted = 0;
    while ((await check(stub, [counter(limit)])).allowed) admitted++;
    expect(admitted).toBeLessThanOrEqual(limit - 151);
    expect(admitted).toBeGreaterThanOrEqual(limit - 151 - (strictReserve(limit) - 1));
  });

  it("writes once per reservation, not once per admission", async () => {
    const stub = stubFor(uniqueId());
    const limit = 1_000; // strictReserve(1000) = 10
    // All five in one 6 s bucket: on the real clock a bucket could turn over between them (a second row, or a second entry).
    frozenClock();
    for (let i = 0; i < 5; i++) await check(stub, [counter(limit)]);
    const rows = await runInDurableObject(stub, (_, state) => state.storage.sql.exec<{ buckets: string }>("SELECT buckets FROM counters").toArray());
    expect(rows.map((r) => (JSON.parse(r.buckets) as [number, number][]).map(([, n]) => n))).toEqual([[strictReserve(limit)]]);
    expect((await check(stub, [counter(limit)])).policies[0]!.remaining).toBe(limit - 6);
  });

  it("spreads a large limit's reservation over the next window's buckets: one write per window, not per bucket, and the same eviction bound", async () => {
    const stub = stubFor(uniqueId());
    const limit = 100_000; // strictReserve = 1000: 999 spare units, 90 in each of 11 buckets of 100 ms
    const burst = counter(limit, 1_000, "burst");
    const rows = () => runInDurableObject(stub, (_, state) => state.storage.sql.exec<{ buckets: string }>("SELECT buckets FROM counters").one().buckets);
    // On a clock the test moves: the reserved buckets are still ahead when it checks (a slow machine's real
    // 900 ms made the test skip that assertion).
    const clock = frozenClock();
    await check(stub, [burst]);
    const first = JSON.parse(await rows()) as [number, number][];
    expect(first.map(([, n]) => n)).toEqual([91, ...Array(10).fill(90)]);
    expect(first.map(([index]) => index - first[0]![0])).toEqual(Array.from({ length: 11 }, (_, i) => i));
    clock.advance(250); // two buckets and a half later: all reserved already
    for (let i = 0; i < 5; i++) await check(stub, [burst]);
    expect(JSON.parse(await rows())).toEqual(first);
    await evictDurableObject(stub);
    const remaining = (await decideVia(stub, [burst], 1, "peek", "key_a")).policies[0]!.remaining;
    expect(remaining).toBeLessThanOrEqual(limit - 6);
    expect(remaining).toBeGreaterThanOrEqual(limit - 6 - (strictReserve(limit) - 1));
  });

  it("keeps separate counters for separate windows, decided together", async () => {
    const stub = stubFor(uniqueId());
    expect((await check(stub, [counter(1, 60_000)])).allowed).toBe(true);
    expect((await check(stub, [counter(1, 60_000)])).allowed).toBe(false);
    expect((await check(stub, [counter(1, 30_000)])).allowed).toBe(true);
    expect((await check(stub, [counter(5, 10_000, "burst"), counter(1, 30_000)])).allowed).toBe(false);
    expect((await decideVia(stub, [counter(5, 10_000, "burst")], 1, "peek", "key_a")).policies[0]!.remaining).toBe(5);
  });

  it("writes nothing for a denial", async () => {
    const stub = stubFor(uniqueId());
    await check(stub, [counter(1)]);
    const before = await runInDurableObject(stub, (_, state) => state.storage.sql.exec<{ buckets: string }>("SELECT buckets FROM counters").toArray());
    await check(stub, [counter(1)]);
    const after = await runInDurableObject(stub, (_, state) => state.storage.sql.exec<{ buckets: string }>("SELECT buckets FROM counters").toArray());
    expect(after).toEqual(before);
  });

  it("drops counters from its storage once nothing in them counts, by its own alarm", async () => {
    const stub = stubFor(uniqueId());
    await check(stub, [counter(5, 200)]);
    expect(await storedCounters(stub)).toBe(1);
    const deadline = Date.now() + 5_000;
    while ((await storedCounters(stub)) > 0 && Date.now() < deadline) await sleep(100);
    expect(await storedCounters(stub)).toBe(0);
    expect((await check(stub, [counter(5, 200)])).policies[0]!.remaining).toBe(4);
  });

  it("keeps counts that still count when its alarm runs", async () => {
    const stub = stubFor(uniqueId());
    await check(stub, [counter(5)]);
    expect(await runDurableObjectAlarm(stub)).toBe(true);
    expect(await storedCounters(stub)).toBe(1);
    expect((await check(stub, [counter(5)])).policies[0]!.remaining).toBe(3);
  });

  it("answers `ended` for a key it was told ended, across an eviction, and only for that key", async () => {
    const stub = stubFor(uniqueId());
    await check(stub, [counter(5)], "key_old");
    await stub.endKey("key_old", { reason: "revoked", at: Date.now() });
    await evictDurableObject(stub);
    const refused = await check(stub, [counter(5)], "key_old");
    expect(refused).toMatchObject({ allowed: false, ended: { reason: "revoked" } });
    expect(refused.policies[0]!.remaining).toBe(4); // refused, nothing spent
    expect(await check(stub, [counter(5)], "key_new")).toMatchObject({ allowed: true, policies: [{ remaining: 3 }] });
    // An end in the future (a rotation's grace period) is not an end yet.
    await stub.endKey("key_new", { reason: "expired", at: Date.now() + 60_000 });
    expect((await check(stub, [counter(5)], "key_new")).ended).toBeUndefined();
  });

  it("takes a revocation as final at once, even one stamped by a clock ahead of its own", async () => {
    const stub = stubFor(uniqueId());
    await stub.endKey("key_skewed", { reason: "revoked", at: Date.now() + 5_000 });
    expect(await check(stub, [counter(5)], "key_skewed")).toMatchObject({ allowed: false, ended: { reason: "revoked" } });
  });

  it("refuses limits, windows, costs and operations that make no sense", async () => {
    const stub = stubFor(uniqueId());
    const refusal = (call: Promise<unknown>) => call.then(() => "admitted", (err: unknown) => String(err));
    const bad = (policy: Partial<Policy>) => [{ id: "c", policy: { name: "x", kind: "window", limit: 5, windowMs: 60_000, ...policy } as Policy }];
    expect(await refusal(decideVia(stub, bad({ limit: 0 }), 1, "check", "k"))).toMatch(/RangeError: limit and window must be positive integers/);
    expect(await refusal(decideVia(stub, bad({ windowMs: 0.5 } as Partial<Policy>), 1, "check", "k"))).toMatch(/RangeError/);
    expect(await refusal(decideVia(stub, bad({}), 1.5, "record", "k"))).toMatch(/RangeError: cost must be a positive integer/);
    expect(await refusal(decideVia(stub, bad({}), 0, "check", "k"))).toMatch(/RangeError: cost must be a positive integer/);
    expect(await refusal(decideVia(stub, [], 1, "check", "k"))).toMatch(/RangeError: between 1 and 32 counters/);
    expect(await refusal(decideVia(stub, bad({}), 1, "drop" as "check", "k"))).toMatch(/RangeError: unknown operation/);
  });

  it("refuses nonsense in the wire form too, however it is sent", async () => {
    const stub = stubFor(uniqueId());
    const refusal = (call: Promise<unknown>) => call.then(() => "admitted", (err: unknown) => String(err));
    expect(await refusal(stub.decideWire("not json", 1, "check", "k"))).toMatch(/SyntaxError/);
    expect(await refusal(stub.decideWire("{}", 1, "check", "k"))).toMatch(/RangeError: between 1 and 32 counters/);
    expect(await refusal(stub.decideWire("[null]", 1, "check", "k"))).toMatch(/RangeError: counters must be objects/);
    expect(await refusal(stub.decideWire(wirePlan([{ id: "c", policy: { name: "x", kind: "window", limit: -1, windowMs: 1_000 } }]), 1, "check", "k"))).toMatch(/RangeError: limit and window/);
    expect(await refusal(stub.decideWire("x".repeat(20_000), 1, "check", "k"))).toMatch(/RangeError: plan must be a wirePlan string/);
    expect(await refusal(stub.decideWire(wirePlan([counter(5)]), 0, "check", "k"))).toMatch(/RangeError: cost must be a positive integer/);
    // A plan refused once is not remembered as valid: it is refused again.
    expect(await refusal(stub.decideWire("{}", 1, "check", "k"))).toMatch(/RangeError/);
  });

  it("answers checks and peeks alike in the wire form, ends and changes included", async () => {
    const stub = stubFor(uniqueId());
    const plan = [counter(3, 1_000, "burst"), counter(5, 60_000), { id: "c:quota", policy: { name: "quota", kind: "quota", limit: 100, period: "month" } } satisfies Counter];
    const wire = (keyId: string, operation: "check" | "peek" = "check", version = 0) => stub.decideWire(wirePlan(plan), 1, operation, keyId, version).then((w) => decodeAnswer(plan, w));
    for (let i = 0; i < 4; i++) {
      const viaWire = await wire("key_a");
      const peeked = await wire("key_a", "peek");
      expect(viaWire.allowed).toBe(i < 3);
      const described = (answer: LimitAnswer) => answer.policies.map((p) => [p.name, p.kind, p.limit, p.remaining]);
      expect(described(viaWire)).toEqual(described(peeked));
    }
    expect((await wire("key_a", "peek")).policies.map((p) => [p.name, p.kind, p.limit, p.remaining])).toEqual([
      ["burst", "window", 3, 0],
      ["default", "window", 5, 2],
      ["quota", "quota", 100, 97],
    ]);
    await stub.keyChanged("key_a", 1_000);
    expect(await wire("key_a", "check", 999)).toMatchObject({ allowed: false, changedAt: 1_000 });
    expect((await wire("key_a", "check", 1_000)).changedAt).toBeUndefined();
    const at = Date.now();
    await stub.endKey("key_a", { reason: "revoked", at });
    expect(await wire("key_a")).toMatchObject({ allowed: false, ended: { reason: "revoked", at } });
    expect(await wire("key_a", "peek")).toMatchObject({ allowed: false, ended: { reason: "revoked", at } });
  });
});
