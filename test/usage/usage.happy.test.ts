import { createExecutionContext, createMessageBatch } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { BEFORE_MONTH_END, frozenClock } from "../clock";
import { adminFetch, createKey, createOrg, keyFetch, MANAGEMENT } from "../harness";
import { eventually } from "../gateway/seed";
import { consumeUsage } from "../../src/usage/consumer";
import { bucketOf, HISTOGRAM_BUCKETS } from "../../src/store/histogram";
import type { UsageMessage } from "../../src/store/usage_message";
import { handleRequest } from "../../src/app";
import type { Env } from "../../src/env";
import { expectJson } from "../management/support";

type ByStatus = Record<"1xx" | "2xx" | "3xx" | "4xx" | "5xx", number>;
interface Summary {
  count: number;
  by_status: ByStatus;
  latency_ms: { p50: number; p95: number; p99: number; max: number } | null;
}
interface UsageBody {
  data: {
    key_id: string;
    granularity: string;
    since: string;
    until: string;
    totals: Summary;
    series: (Summary & { start: string })[];
    recent: { method: string; path: string; status: number; latency_ms: number; at: string }[];
  };
}
interface OrgUsageBody {
  data: { org_id: string; granularity: string; totals: Summary; series: (Summary & { start: string })[]; keys: { key_id: string; count: number; by_status: ByStatus }[] };
  pagination: { page: number; per_page: number; total: number };
}

const MINUTE = 60_000;
const HOUR = 3_600_000;
const usagePath = (orgId: string, keyId: string, query = "") => `/orgs/${orgId}/keys/${keyId}/usage${query}`;
const zero: ByStatus = { "1xx": 0, "2xx": 0, "3xx": 0, "4xx": 0, "5xx": 0 };

/** Polls the usage endpoint until the queue consumer has written `total` calls. */
async function usageOnceWritten(orgId: string, keyId: string, total: number, query = ""): Promise<UsageBody> {
  return eventually(async () => {
    const res = await adminFetch(usagePath(orgId, keyId, query));
    expect(res.status).toBe(200);
    const body = (await res.json()) as UsageBody;
    return body.data.totals.count >= total && body.data.recent.length >= Math.min(total, 20) ? body : undefined;
  });
}

/** Feeds aggregates straight to the consumer: traffic at chosen times, without waiting for them. */
async function feed(orgId: string, keyId: string, calls: { at: number; status?: number; latencyMs: number }[]) {
  const aggregates = new Map<string, UsageMessage["aggregates"][number]>();
  for (const call of calls) {
    const minute = call.at - (call.at % MINUTE);
    const statusClass = Math.floor((call.status ?? 200) / 100);
    const id = `${minute}|${statusClass}`;
    let a = aggregates.get(id);
    if (!a) aggregates.set(id, (a = { keyId, orgId, minute, statusClass, count: 0, maxMs: 0, histogram: new Array<number>(HISTOGRAM_BUCKETS).fill(0) }));
    a.count++;
    a.maxMs = Math.max(a.maxMs, call.latencyMs);
    a.histogram[bucketOf(call.latencyMs)]!++;
  }
  const body: UsageMessage = { v: 2, id: crypto.randomUUID(), aggregates: [...aggregates.values()], recent: [], failures: [] };
  const batch = createMessageBatch<unknown>("keygate-usage", [{ id: body.id, timestamp: new Date(), attempts: 1, body }]);
  await consumeUsage(batch, env);
}

describe("GET /orgs/{org_id}/keys/{key_id}/usage", () => {
  it("totals by status class, a latency summary, a series and the recent calls newest first", async () => {
    const org = await createOrg();
    const { id, key } = await createKey(org.id, { scopes: ["demo:read"] });
    await keyFetch(key, "/demo/a?token=not-recorded");
    await keyFetch(key, "/demo/status/302", { redirect: "manual" });
    await keyFetch(key, "/demo/status/404");
    await keyFetch(key, "/demo/b", { method: "POST" }); // 403: the key lacks demo:write
    await keyFetch(key, "/demo/status/503");

    const body = await usageOnceWritten(org.id, id, 5);
    expect(body.data.key_id).toBe(id);
    expect(body.data.granularity).toBe("hour");
    expect(body.data.totals.count).toBe(5);
    expect(body.data.totals.by_status).toEqual({ ...zero, "2xx": 1, "3xx": 1, "4xx": 2, "5xx": 1 });
    const latency = body.data.totals.latency_ms!;
    expect(latency.p50).toBeLessThanOrEqual(latency.p95);
    expect(latency.p99).toBeLessThanOrEqual(latency.max);
    expect(body.data.series.reduce((n, b) => n + b.count, 0)).toBe(5);
    for (const bucket of body.data.series) expect(Date.parse(bucket.start) % HOUR).toBe(0);

    const recent = body.data.recent;
    expect(recent.map((r) => r.path).sort()).toEqual(["/demo/a", "/demo/b", "/demo/status/302", "/demo/status/404", "/demo/status/503"]);
    expect(recent.find((r) => r.path === "/demo/b")).toMatchObject({ method: "POST", status: 403 });
    for (const call of recent) {
      expect(new Date(call.at).toISOString()).toBe(call.at);
      expect(call.latency_ms).toBeGreaterThanOrEqual(0);
    }
    const times = recent.map((r) => Date.parse(r.at));
    expect([...times].sort((a, b) => b - a)).toEqual(times);
  });

  it("series per minute, hour and day, with percentiles per bucket", async () => {
    const org = await createOrg();
    const { id } = await createKey(org.id);
    const day = Math.floor(Date.now() / 86_400_000) * 86_400_000 - 86_400_000; // yesterday, UTC
    const at = (h: number, m: number) => day + h * HOUR + m * MINUTE;
    await feed(org.id, id, [
      ...Array.from({ length: 98 }, () => ({ at: at(10, 1), latencyMs: 4 })),
      { at: at(10, 1), latencyMs: 120 },
      { at: at(10, 1), latencyMs: 900, status: 502 },
      { at: at(10, 2), latencyMs: 8, status: 404 },
      { at: at(11, 0), latencyMs: 2 },
    ]);
    const since = new Date(at(10, 0)).toISOString();
    const until = new Date(at(11, 30)).toISOString();

    const minutes = (await (await adminFetch(usagePath(org.id, id, `?granularity=minute&since=${since}&until=${until}`))).json()) as UsageBody;
    expect(minutes.data.series.map((b) => [b.start, b.count, b.by_status["2xx"], b.by_status["4xx"], b.by_status["5xx"]])).toEqual([
      [new Date(at(10, 1)).toISOString(), 100, 99, 0, 1],
      [new Date(at(10, 2)).toISOString(), 1, 0, 1, 0],
      [new Date(at(11, 0)).toISOString(), 1, 1, 0, 0],
    ]);
    expect(minutes.data.series[0]!.latency_ms).toEqual({ p50: 5, p95: 5, p99: 150, max: 900 });
    expect(minutes.data.totals).toMatchObject({ count: 102, by_status: { ...zero, "2xx": 100, "4xx": 1, "5xx": 1 } });

    const hours = (await (await adminFetch(usagePath(org.id, id, `?granularity=hour&since=${since}&until=${until}`))).json()) as UsageBody;
    expect(hours.data.series.map((b) => [b.start, b.count])).toEqual([
      [new Date(at(10, 0)).toISOString(), 101],
      [new Date(at(11, 0)).toISOString(), 1],
    ]);
    expect(hours.data.series[0]!.latency_ms).toEqual({ p50: 5, p95: 5, p99: 150, max: 900 });

    const days = (await (await adminFetch(usagePath(org.id, id, `?granularity=day&since=${new Date(day).toISOString().slice(0, 10)}`))).json()) as UsageBody;
    expect(days.data.series.map((b) => [b.start, b.count])).toEqual([[new Date(day).toISOString(), 102]]);
    expect(days.data.totals.latency_ms!.max).toBe(900);
  });

  it("since and until narrow the range", async () => {
    const org = await createOrg();
    const { id, key } = await createKey(org.id);
    await keyFetch(key, "/demo/range");
    await usageOnceWritten(org.id, id, 1);

    const future = new Date(Date.now() + 2 * HOUR).toISOString();
    const past = new Date(Date.now() - 2 * HOUR).toISOString();
    const after = (await (await adminFetch(usagePath(org.id, id, `?since=${future}&until=${future}`))).json()) as UsageBody;
    expect(after.data.totals).toEqual({ count: 0, by_status: zero, latency_ms: null });
    expect(after.data.series).toEqual([]);
    const before = (await (await adminFetch(usagePath(org.id, id, `?until=${past}`))).json()) as UsageBody;
    expect(before.data.totals.count).toBe(0);
    const within = (await (await adminFetch(usagePath(org.id, id, `?since=${past}&until=${future}`))).json()) as UsageBody;
    expect(within.data.totals.count).toBe(1);
  });

  it("a key of the same org with keys:read may read it", async () => {
    const org = await createOrg();
    const { id, key } = await createKey(org.id);
    const reader = await createKey(org.id, { scopes: ["keys:read"] });
    await keyFetch(key, "/demo/x");
    await usageOnceWritten(org.id, id, 1);
    const res = await keyFetch(reader.key, `${MANAGEMENT}${usagePath(org.id, id)}`);
    expect(res.status).toBe(200);
    expect(((await res.json()) as UsageBody).data.totals.count).toBe(1);
  });

  it("a key with no traffic has zero totals, no series and no recent calls", async () => {
    const org = await createOrg();
    const { id } = await createKey(org.id);
    const body = (await (await adminFetch(usagePath(org.id, id))).json()) as UsageBody;
    expect(body.data).toMatchObject({ key_id: id, totals: { count: 0, by_status: zero, latency_ms: null }, series: [], recent: [] });
  });
});

describe("usage at UTC midnight on a month's last day", () => {
  it("calls either side of midnight land in their own minute, hour and day; a bare date covers its whole day, and the default range ends now", async () => {
    const org = await createOrg();
    const { id } = await createKey(org.id); // before the clock moves: a key event is a webhook, signed with the time
    const midnight = BEFORE_MONTH_END + 100; // 2031-02-01T00:00:00Z
    frozenClock(midnight + 200);
    await feed(org.id, id, [
      { at: BEFORE_MONTH_END, latencyMs: 3 },
      { at: midnight + 100, latencyMs: 5, status: 404 },
    ]);
    const series = async (query: string) => {
      const body = (await (await adminFetch(usagePath(org.id, id, query))).json()) as UsageBody;
      return body.data.series.map((b) => [b.start, b.count]);
    };
    expect(await series("?granularity=day&since=2031-01-31&until=2031-02-01")).toEqual([
      ["2031-01-31T00:00:00.000Z", 1],
      ["2031-02-01T00:00:00.000Z", 1],
    ]);
    expect(await series("?granularity=day&since=2031-01-31&until=2031-01-31")).toEqual([["2031-01-31T00:00:00.000Z", 1]]);
    expect(await series("?granularity=hour")).toEqual([
      ["2031-01-31T23:00:00.000Z", 1],
      ["2031-02-01T00:00:00.000Z", 1],
    ]);
    expect(await series("?granularity=minute")).toEqual([
      ["2031-01-31T23:59:00.000Z", 1],
      ["2031-02-01T00:00:00.000Z", 1],
    ]);
    const body = (await (await adminFetch(usagePath(org.id, id, "?granularity=minute"))).json()) as UsageBody;
    expect(body.data.until).toBe("2031-02-01T00:00:00.200Z");
  });
});

describe("GET /orgs/{org_id}/usage", () => {
  it("the org's totals and series, and per-key totals busiest first, paged", async () => {
    const org = await createOrg();
    const other = await createOrg();
    const [a, b, c] = await Promise.all([createKey(org.id), createKey(org.id), createKey(org.id)]);
    const theirs = await createKey(other.id);
    const t = Date.now() - 5 * MINUTE;
    await feed(org.id, a.id, [{ at: t, latencyMs: 3 }]);
    await feed(org.id, b.id, [{ at: t, latencyMs: 3 }, { at: t, latencyMs: 3, status: 429 }, { at: t + MINUTE, latencyMs: 30 }]);
    await feed(other.id, theirs.id, [{ at: t, latencyMs: 3 }]);

    const res = await adminFetch(`/orgs/${org.id}/usage?granularity=minute&per_page=1`);
    expect(res.status).toBe(200);
    const body = (await res.json()) as OrgUsageBody;
    expect(body.data.org_id).toBe(org.id);
    expect(body.data.totals).toMatchObject({ count: 4, by_status: { ...zero, "2xx": 3, "4xx": 1 } });
    expect(body.data.series.map((s) => s.count)).toEqual([3, 1]);
    expect(body.data.keys).toEqual([{ key_id: b.id, count: 3, by_status: { ...zero, "2xx": 2, "4xx": 1 } }]);
    expect(body.pagination).toEqual({ page: 1, per_page: 1, total: 2 });
    const page2 = (await (await adminFetch(`/orgs/${org.id}/usage?granularity=minute&per_page=1&page=2`)).json()) as OrgUsageBody;
    expect(page2.data.keys.map((k) => k.key_id)).toEqual([a.id]);
    expect(JSON.stringify(body)).not.toContain(c.id);
  });

  it("a key with keys:read of the org may read it; an org without traffic has zero totals", async () => {
    const org = await createOrg();
    const reader = await createKey(org.id, { scopes: ["keys:read"] });
    const res = await keyFetch(reader.key, `${MANAGEMENT}/orgs/${org.id}/usage`);
    expect(res.status).toBe(200);
    const body = (await res.json()) as OrgUsageBody;
    expect(body.data).toMatchObject({ granularity: "hour", totals: { count: 0, latency_ms: null }, series: [], keys: [] });
  });
});

describe("usage feeds the key list and the audit trail", () => {
  it("unused_since reflects real traffic: a key used through the gateway drops out of the filter", async () => {
    const org = await createOrg();
    const used = await createKey(org.id, { name: "used" });
    const idle = await createKey(org.id, { name: "idle" });
    const before = new Date(Date.now() - 1000).toISOString();
    await keyFetch(used.key, "/demo/x");

    const lastUsed = await eventually(async () => {
      const res = await adminFetch(`/orgs/${org.id}/keys/${used.id}`);
      const { data } = (await res.json()) as { data: { last_used_at: string | null } };
      return data.last_used_at ?? undefined;
    });
    expect(Date.parse(lastUsed)).toBeGreaterThan(Date.parse(before));

    const res = await adminFetch(`/orgs/${org.id}/keys?unused_since=${encodeURIComponent(before)}`);
    const { data } = (await res.json()) as { data: { id: string }[] };
    expect(data.map((k) => k.id)).toEqual([idle.id]);
    const later = new Date(Date.parse(lastUsed) + 1).toISOString();
    const all = (await (await adminFetch(`/orgs/${org.id}/keys?unused_since=${encodeURIComponent(later)}`)).json()) as { data: { id: string }[] };
    expect(all.data.map((k) => k.id).sort()).toEqual([idle.id, used.id].sort());
  });

  it("calls with a revoked key appear as one aggregated auth.failed event in the org's audit trail", async () => {
    const org = await createOrg();
    const { id, key } = await createKey(org.id);
    await adminFetch(`/orgs/${org.id}/keys/${id}/revoke`, { method: "POST" });
    for (let i = 0; i < 4; i++) {
      expect((await keyFetch(key, "/demo/x", { headers: { authorization: `Bearer ${key}`, "cf-connecting-ip": "203.0.113.50" } })).status).toBe(401);
    }
    interface AuditBody {
      data: { action: string; key_id: string | null; count: number; source: string | null; reason: string | null; actor: string }[];
    }
    const event = await eventually(async () => {
      const res = await adminFetch(`/orgs/${org.id}/audit?action=auth.failed`);
      expect(res.status).toBe(200);
      const { data } = (await res.json()) as AuditBody;
      return data[0] && data[0].count >= 4 ? data : undefined;
    });
    expect(event).toHaveLength(1);
    expect(event[0]).toMatchObject({ action: "auth.failed", key_id: id, count: 4, source: "203.0.113.50", reason: "key_revoked" });
  });
});

describe("POST /usage/flush (the drain `npm start` runs before stopping)", () => {
  it("sends the isolate's buffered usage and answers once the consumer stored it", async () => {
    const org = await createOrg();
    const { id, key } = await createKey(org.id);
    for (let i = 0; i < 5; i++) await keyFetch(key, `/demo/drain/${i}`);
    const res = await adminFetch("/usage/flush", { method: "POST" });
    expect(res.status).toBe(200);
    const { data } = (await res.json()) as { data: { messages: number; stored: boolean } };
    expect(data.stored).toBe(true);
    expect(data.messages).toBeGreaterThan(0);
    // No polling: once the drain answered, every call is in D1, whether the drain or the flush timer sent it.
    const row = await env.DB.prepare("SELECT sum(count) AS n FROM usage_minutes WHERE key_id = ?").bind(id).first<{ n: number | null }>();
    expect(row?.n).toBe(5);
  });
});


describe("recent calls", () => {
  it("are the key's last 100 calls, newest first, when 130 arrive within one flush interval", async () => {
    // A queue binding of its own gives this worker its own usage buffer, flushed only by the drain below
    // (its 20 s timer is left pending: the gateway calls' contexts are not waited on).
    type UsageQueue = Env["USAGE_QUEUE"];
    const queue: UsageQueue = { send: (...a: Parameters<UsageQueue["send"]>) => env.USAGE_QUEUE.send(...a), sendBatch: (...a: Parameters<UsageQueue["sendBatch"]>) => env.USAGE_QUEUE.sendBatch(...a), metrics: () => env.USAGE_QUEUE.metrics() };
    const variant: Env = { ...env, USAGE_QUEUE: queue, USAGE_FLUSH_INTERVAL_MS: "20000" };
    const call = (path: string, token = env.ADMIN_TOKEN!, method = "GET") =>
      handleRequest(new Request(`http://gw.test${path}`, { method, headers: { authorization: `Bearer ${token}` } }), variant, createExecutionContext());
    const org = await createOrg();
    const { id, key } = await createKey(org.id, { rate_limit: { limit: 1_000, window: "60s" } });
    for (let i = 0; i < 130; i++) expect((await call(`/demo/recent/${i}`, key)).status).toBe(200);
    const drained = await expectJson<{ data: { stored: boolean } }>(await call(`${MANAGEMENT}/usage/flush`, undefined, "POST"), 200);
    expect(drained.data.stored).toBe(true);

    const { data } = await expectJson<UsageBody>(await call(`${MANAGEMENT}${usagePath(org.id, id)}`), 200);
    expect(data.totals.count).toBe(130);
    expect(data.recent.map((c) => c.path)).toEqual(Array.from({ length: 100 }, (_, i) => `/demo/recent/${129 - i}`));
  });
});
