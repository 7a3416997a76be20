// SPEC §7 through the worker: named windows and quotas set per key through the management API
// (exceeds_tier for org keys), GET …/limits reading without spending, route costs, rotation keeping
// the budget, and a tier that left TIERS.
import { describe, expect, it } from "vitest";
import type { Env } from "../../src/env";
import { type ErrorBody, expectError, expectJson, fields } from "../management/support";
import { frozenClock } from "../clock";
import { workerWith } from "./harness";

const TIERS = {
  free: {
    limits: [
      { name: "burst", limit: 5, window: "1s" },
      { name: "default", limit: 20, window: "60s" },
    ],
    quota: { limit: 1_000, period: "month" },
  },
  pro: { limit: 100, window: "60s", org_limit: 500 },
};
const ROUTES = [
  { method: "POST", path: "/demo/report", scopes: ["demo:read"], cost: 3 },
  { method: "GET", path: "/demo/*", scopes: ["demo:read"] },
];


/** The worker with these TIERS and ROUTES. */
const worker = (overrides: Partial<Env> = {}) => workerWith({ TIERS: JSON.stringify(TIERS), ROUTES: JSON.stringify(ROUTES), ...overrides });

describe("per-key windows and quotas through the management API", () => {
  it("the operator sets named windows and a quota; the key shows them and the gateway counts them", async () => {
    frozenClock(); // no UTC midnight restarts the daily quota between the requests
    const w = worker();
    const org = await w.org();
    const key = await w.key(org, { rate_limits: [{ name: "burst", limit: 50, window: "2s" }], quota: { limit: 3, period: "day" } });
    expect(key.rate_limits).toEqual([{ name: "burst", limit: 50, window: "2s" }]);
    expect(key.quota).toEqual({ limit: 3, period: "day" });
    expect(key.rate_limit).toBeNull();

    const res = await w.gateway(key.key);
    expect(res.status).toBe(200);
    expect(res.headers.get("RateLimit-Policy")).toBe('"burst";q=50;w=2, "default";q=20;w=60, "quota";q=3;w=86400');
    expect(res.headers.get("RateLimit")).toMatch(/^"burst";r=49;t=\d+, "default";r=19;t=\d+, "quota";r=2;t=\d+$/);
    expect((await w.gateway(key.key)).status).toBe(200);
    expect((await w.gateway(key.key)).status).toBe(200);
    const over = await w.gateway(key.key);
    const body = await expectError(over, 429, "quota_exceeded");
    expect(body.error.details).toEqual([{ field: "policies", message: "quota" }]);
    expect(over.headers.get("Retry-After")).toBe(over.headers.get("X-RateLimit-Reset"));
    expect(over.headers.get("RateLimit")).toContain(`"quota";r=0;t=${over.headers.get("Retry-After")}`);
  });

  it("PATCH replaces windows and quota, null removes them; the audit trail records the change", async () => {
    const w = worker();
    const org = await w.org();
    const { id } = await w.key(org, { rate_limits: [{ name: "default", limit: 10, window: "60s" }] });
    const patched = await expectJson<{ data: { rate_limits: unknown; quota: unknown; rate_limit: unknown } }>(
      await w.api(`/orgs/${org}/keys/${id}`, { method: "PATCH", json: { quota: { limit: 500, period: "month" } } }),
      200,
    );
    expect(patched.data).toMatchObject({ rate_limits: [{ name: "default", limit: 10, window: "60s" }], rate_limit: { limit: 10, window: "60s" }, quota: { limit: 500, period: "month" } });
    const cleared = await expectJson<{ data: { rate_limits: unknown; quota: unknown } }>(await w.api(`/orgs/${org}/keys/${id}`, { method: "PATCH", json: { rate_limits: null, quota: null } }), 200);
    expect(cleared.data).toMatchObject({ rate_limits: null, quota: null });
    const audit = await expectJson<{ data: { action: string; details: { changes?: Record<string, unknown> } }[] }>(await w.api(`/orgs/${org}/audit?action=key.updated`), 200);
    expect(audit.data.map((e) => Object.keys(e.details.changes ?? {}))).toContainEqual(["rate_limit"]);
  });

  it.each([
    [{ rate_limits: [{ name: "nope", limit: 5, window: "1s" }] }, "rate_limits[0].name"],
    [{ rate_limits: [{ name: "burst", limit: 5, window: "1s" }, { name: "burst", limit: 6, window: "1s" }] }, "rate_limits[1].name"],
    [{ rate_limits: [{ name: "burst", limit: 5, window: "999ms" }] }, "rate_limits[0].window"],
    [{ rate_limits: [{ name: "burst", limit: 5, window: "32d" }] }, "rate_limits[0].window"],
    [{ rate_limits: [{ name: "burst", limit: 0, window: "1s" }] }, "rate_limits[0].limit"],
    [{ rate_limits: [{ name: "burst", limit: 2.5, window: "1s" }] }, "rate_limits[0].limit"],
    [{ rate_limits: [] }, "rate_limits"],
    [{ quota: { limit: 5, period: "week" } }, "quota.period"],
    [{ quota: { limit: -1, period: "day" } }, "quota.limit"],
    [{ rate_limit: { limit: 5, window: "60s" }, rate_limits: [{ name: "burst", limit: 5, window: "1s" }] }, "rate_limits"],
  ])("refuses %j with 400 naming %s, on create and on PATCH", async (body, field) => {
    const w = worker();
    const org = await w.org();
    const created = await expectError(await w.api(`/orgs/${org}/keys`, { json: { name: "k", scopes: ["demo:read"], ...body } }), 400, "validation_error");
    expect(fields(created)).toContain(field);
    const { id } = await w.key(org);
    const patched = await expectError(await w.api(`/orgs/${org}/keys/${id}`, { method: "PATCH", json: body }), 400, "validation_error");
    expect(fields(patched)).toContain(field);
  });

  it("an org key may set limits at or below its tier's only (403 exceeds_tier); the operator may set anything", async () => {
    const w = worker();
    const org = await w.org();
    const writer = await w.key(org, { scopes: ["keys:write", "keys:read", "demo:read"] });
    const asOrg = (path: string, json: unknown, method = "POST") => w.api(`/orgs/${org}${path}`, { json, method, token: writer.key });

    // The probe's case: a free-tier org key minting itself a billion per second.
    const probe = await expectError(await asOrg("/keys", { name: "k", scopes: ["demo:read"], rate_limit: { limit: 1_000_000_000, window: "1s" } }), 403, "exceeds_tier");
    expect(fields(probe)).toEqual(["rate_limit.limit", "rate_limit.window"]);
    await expectError(await asOrg(`/keys/${writer.id}`, { rate_limit: { limit: 1_000_000_000, window: "1s" } }, "PATCH"), 403, "exceeds_tier");
    const higher = await expectError(await asOrg("/keys", { name: "k", scopes: ["demo:read"], rate_limits: [{ name: "burst", limit: 6, window: "1s" }] }), 403, "exceeds_tier");
    expect(fields(higher)).toEqual(["rate_limits[0].limit"]);
    const shorter = await expectError(await asOrg("/keys", { name: "k", scopes: ["demo:read"], rate_limit: { limit: 20, window: "30s" } }), 403, "exceeds_tier");
    expect(fields(shorter)).toEqual(["rate_limit.window"]);
    const quota = await expectError(await asOrg("/keys", { name: "k", scopes: ["demo:read"], quota: { limit: 1_001, period: "month" } }), 403, "exceeds_tier");
    expect(fields(quota)).toEqual(["quota.limit"]);
    await expectError(await asOrg("/keys", { name: "k", scopes: ["demo:read"], quota: { limit: 10, period: "day" } }), 403, "exceeds_tier");
    await expectError(await asOrg("/keys", { name: "k", scopes: ["demo:read"], rate_limits: [{ name: "default", limit: 20, window: "60s", mode: "fast" }] }), 403, "exceeds_tier");

    const lower = await expectJson<{ data: { id: string } }>(
      await asOrg("/keys", { name: "k", scopes: ["demo:read"], rate_limits: [{ name: "burst", limit: 5, window: "1s" }, { name: "default", limit: 10, window: "120s" }], quota: { limit: 1_000, period: "month" } }),
      201,
    );
    await expectError(await asOrg(`/keys/${lower.data.id}`, { rate_limits: [{ name: "default", limit: 21, window: "60s" }] }, "PATCH"), 403, "exceeds_tier");
    await expectJson(await asOrg(`/keys/${lower.data.id}`, { rate_limits: [{ name: "default", limit: 20, window: "60s" }] }, "PATCH"), 200);
    // The operator is not bound by the tier.
    await expectJson(await w.api(`/orgs/${org}/keys/${lower.data.id}`, { method: "PATCH", json: { rate_limits: [{ name: "default", limit: 10_000, window: "1s" }], quota: { limit: 10, period: "day" } } }), 200);
  });
});

describe("windows as written", () => {
  it("a key's windows read back as the caller wrote them, on the key, in GET …/limits and in the audit trail", async () => {
    const w = worker();
    const org = await w.org();
    const written = [
      { name: "burst", limit: 5, window: "1s" },
      { name: "default", limit: 20, window: "60s" },
    ];
    const key = await w.key(org, { rate_limits: written });
    expect(key.rate_limits).toEqual(written);
    const read = await expectJson<{ data: { rate_limits: unknown; rate_limit: unknown } }>(await w.api(`/orgs/${org}/keys/${key.id}`), 200);
    expect(read.data.rate_limits).toEqual(written);
    expect(read.data.rate_limit).toEqual({ limit: 20, window: "60s" });
    expect((await w.limits(org, key.id)).policies.map((p) => [p.name, p.window])).toEqual([
      ["burst", "1s"],
      ["default", "60s"],
      ["quota", null],
    ]);
    const patched = await expectJson<{ data: { rate_limit: unknown } }>(await w.api(`/orgs/${org}/keys/${key.id}`, { method: "PATCH", json: { rate_limit: { limit: 10, window: "2m" } } }), 200);
    expect(patched.data.rate_limit).toEqual({ limit: 10, window: "2m" });
    const audit = await expectJson<{ data: { action: string; details: { changes?: { rate_limit?: unknown } } }[] }>(await w.api(`/orgs/${org}/audit?action=key.updated`), 200);
    expect(audit.data[0]!.details.changes!.rate_limit).toEqual({ from: { limits: written }, to: { limits: [{ name: "default", limit: 10, window: "2m" }] } });
  });
});

describe("a PATCH is judged on the limits it sets", () => {
  it("an org key may lower the quota of a key the operator granted windows above the tier (403 only for what it sets itself)", async () => {
    const w = worker();
    const org = await w.org();
    const writer = await w.key(org, { scopes: ["keys:write", "keys:read", "demo:read"] });
    const granted = await w.key(org, { rate_limits: [{ name: "default", limit: 10_000, window: "60s" }] });
    const asOrg = (json: unknown) => w.api(`/orgs/${org}/keys/${granted.id}`, { method: "PATCH", json, token: writer.key });

    const lowered = await expectJson<{ data: { rate_limits: unknown; quota: unknown } }>(await asOrg({ quota: { limit: 500, period: "month" } }), 200);
    expect(lowered.data).toMatchObject({ rate_limits: [{ name: "default", limit: 10_000, window: "60s" }], quota: { limit: 500, period: "month" } });
    // What it sets is still bounded by the tier.
    const raised = await expectError(await asOrg({ quota: { limit: 1_001, period: "month" } }), 403, "exceeds_tier");
    expect(fields(raised)).toEqual(["quota.limit"]);
    const windows = await expectError(await asOrg({ rate_limits: [{ name: "default", limit: 10_000, window: "60s" }] }), 403, "exceeds_tier");
    expect(fields(windows)).toEqual(["rate_limits[0].limit"]);
  });

  it("after the org moved to a tier without one of the key's windows, a quota PATCH is not refused for that window", async () => {
    const w = worker();
    const org = await w.org();
    const { id } = await w.key(org, { rate_limits: [{ name: "burst", limit: 3, window: "1s" }] });
    await expectJson(await w.api(`/orgs/${org}`, { method: "PATCH", json: { tier: "pro" } }), 200);
    const patched = await expectJson<{ data: { quota: unknown } }>(await w.api(`/orgs/${org}/keys/${id}`, { method: "PATCH", json: { quota: { limit: 50, period: "day" } } }), 200);
    expect(patched.data.quota).toEqual({ limit: 50, period: "day" });
    // Setting the window itself is judged against the tier the org now has.
    const named = await expectError(await w.api(`/orgs/${org}/keys/${id}`, { method: "PATCH", json: { rate_limits: [{ name: "burst", limit: 3, window: "1s" }] } }), 400, "validation_error");
    expect(fields(named)).toEqual(["rate_limits[0].name"]);
  });
});

describe("a window's length changed", () => {
  it("keeps the spend made under the old length: an org key at 429 cannot buy a fresh window by lengthening it", async () => {
    frozenClock();
    const w = worker({ TIERS: JSON.stringify({ ...TIERS, free: { limit: 3, window: "60s" } }) });
    const org = await w.org();
    const key = await w.key(org, { scopes: ["keys:write", "keys:read", "demo:read"] });
    for (let i = 0; i < 3; i++) expect((await w.gateway(key.key)).status).toBe(200);
    await expectError(await w.gateway(key.key), 429, "rate_limited");
    for (const window of ["61s", "62s", "120s"]) {
      await expectJson(await w.api(`/orgs/${org}/keys/${key.id}`, { method: "PATCH", json: { rate_limit: { limit: 3, window } }, token: key.key }), 200);
      const refused = await w.gateway(key.key);
      await expectError(refused, 429, "rate_limited");
      expect(refused.headers.get("RateLimit-Policy")).toBe(`"default";q=3;w=${parseInt(window, 10)}`);
      expect((await w.limits(org, key.id)).policies.map((p) => p.remaining)).toEqual([0]);
    }
  });
});

describe("GET /orgs/{org}/keys/{key}/limits", () => {
  it("reads every policy without spending; a request then spends exactly the route's cost", async () => {
    frozenClock(); // the 1 s burst window must not give the cost back between the request and the reads
    const w = worker();
    const org = await w.org();
    const key = await w.key(org);
    const first = await w.limits(org, key.id);
    const second = await w.limits(org, key.id);
    expect(second).toEqual(first);
    expect(first.policies.map((p) => [p.name, p.kind, p.limit, p.window, p.period, p.seconds, p.remaining, p.reset_at])).toEqual([
      ["burst", "window", 5, "1s", null, 1, 5, null],
      ["default", "window", 20, "1m", null, 60, 20, null],
      ["quota", "quota", 1_000, null, "month", 2_592_000, 1_000, null],
    ]);

    expect((await w.gateway(key.key, "/demo/report", "POST")).status).toBe(200);
    const after = await w.limits(org, key.id);
    expect(after.policies.map((p) => p.remaining)).toEqual([2, 17, 997]);
    expect(after.policies.every((p) => p.reset_at !== null && p.reset_seconds! >= 0)).toBe(true);
    expect((await w.limits(org, key.id)).policies.map((p) => p.remaining)).toEqual([2, 17, 997]);
  });

  it("includes the org aggregate, needs keys:read, and hides other orgs' keys", async () => {
    const w = worker();
    const org = await w.org("pro");
    const key = await w.key(org, { scopes: ["demo:read", "keys:read"] });
    expect((await w.limits(org, key.id, key.key)).policies.map((p) => [p.name, p.limit])).toEqual([
      ["default", 100],
      ["org", 500],
    ]);
    const reader = await w.key(org, { scopes: ["demo:read"] });
    await expectError(await w.api(`/orgs/${org}/keys/${key.id}/limits`, { token: reader.key }), 403, "insufficient_scope");
    const other = await w.org();
    const theirs = await w.key(other);
    await expectError(await w.api(`/orgs/${org}/keys/${theirs.id}/limits`, { token: key.key }), 404, "not_found");
    await expectError(await w.api(`/orgs/${other}/keys/${theirs.id}/limits`, { token: key.key }), 404, "not_found");
  });
});

describe("rotation and removed tiers", () => {
  it("a rotated key keeps its predecessor's budget: rotating at 429 does not reset the counters", async () => {
    const w = worker();
    const org = await w.org();
    const old = await w.key(org, { scopes: ["demo:read", "keys:write", "keys:read"], rate_limits: [{ name: "default", limit: 3, window: "60s" }] });
    for (let i = 0; i < 3; i++) expect((await w.gateway(old.key)).status).toBe(200);
    await expectError(await w.gateway(old.key), 429, "rate_limited");

    // The key rotates itself, as a client at its limit would.
    const rotated = await expectJson<{ data: { id: string; key: string } }>(await w.api(`/orgs/${org}/keys/${old.id}/rotate`, { json: {}, token: old.key }), 201);
    await expectError(await w.gateway(rotated.data.key), 429, "rate_limited");
    const limits = await w.limits(org, rotated.data.id);
    expect(limits.shared_with_rotation_chain_of).toBe(old.id);
    expect(limits.policies.find((p) => p.name === "default")!.remaining).toBe(0);

    // And so on down the chain.
    const again = await expectJson<{ data: { id: string; key: string } }>(await w.api(`/orgs/${org}/keys/${rotated.data.id}/rotate`, { json: {} }), 201);
    await expectError(await w.gateway(again.data.key), 429, "rate_limited");
  });

  it("a tier removed from TIERS: 403 tier_unavailable for its keys, with or without their own limits, naming no config", async () => {
    const w = worker();
    const org = await w.org("pro");
    const plain = await w.key(org);
    const own = await w.key(org, { rate_limits: [{ name: "default", limit: 5, window: "60s" }] });
    expect((await w.gateway(plain.key)).status).toBe(200);

    const without = worker({ TIERS: JSON.stringify({ free: TIERS.free }) });
    for (const key of [plain, own]) {
      const res = await without.gateway(key.key);
      const body: ErrorBody = await expectError(res, 403, "tier_unavailable");
      expect(body.error.message).not.toMatch(/\bpro\b|TIERS/);
      expect(res.headers.get("x-demo-origin")).toBeNull();
    }
  });
});
