// GET /auth-failures (issue 16): the operator's view of failures no org owns.
import { createMessageBatch } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { consumeUsage } from "../../src/usage/consumer";
import { type FailureAggregate, USAGE_MESSAGE_VERSION, type UsageMessage } from "../../src/store/usage_message";
import type { AuthFailureRecord } from "../../src/usage/record";
import { adminFetch, createKey, createOrg, gatewayFetch, keyFetch, MANAGEMENT } from "../harness";
import { securityTests } from "./security";
import { expectError, expectJson } from "./support";

securityTests({ method: "GET", path: "/auth-failures", allows: "operator" });

interface Bucket {
  hour: string;
  source: string;
  reason: string;
  count: number;
  first_seen_at: string;
  last_seen_at: string;
}
interface Page {
  data: { totals: { failures: number; buckets: number; sources: number }; buckets: Bucket[] };
  pagination: { page: number; per_page: number; total: number };
}

const HOUR = 3_600_000;
let seq = 0;

/** Failures through the real queue consumer, as the hot path's recorder would send them. */
async function record(failures: AuthFailureRecord[]): Promise<void> {
  // Grouped per (source, reason, key, org, hour) as the isolate's recorder groups them before sending.
  const groups = new Map<string, FailureAggregate>();
  for (const f of failures) {
    const hour = Math.floor(f.at / HOUR) * HOUR;
    const bucket = [f.source, f.reason, f.keyId, f.orgId, hour].join("|");
    const group = groups.get(bucket);
    if (group) {
      group.count += 1;
      group.firstAt = Math.min(group.firstAt, f.at);
      group.lastAt = Math.max(group.lastAt, f.at);
    } else groups.set(bucket, { source: f.source, reason: f.reason, keyId: f.keyId, orgId: f.orgId, hour, count: 1, firstAt: f.at, lastAt: f.at });
  }
  const body: UsageMessage = { v: USAGE_MESSAGE_VERSION, id: `af-${crypto.randomUUID()}`, aggregates: [], recent: [], failures: [...groups.values()] };
  const batch = createMessageBatch<UsageMessage>("keygate-usage", [{ id: `af-${++seq}`, timestamp: new Date(), attempts: 1, body }]);
  await consumeUsage(batch, env);
}

const failure = (source: string, reason: AuthFailureRecord["reason"], at: number): AuthFailureRecord => ({ source, reason, keyId: null, orgId: null, at });
/** A source no other test uses, so filters by it see only this test's rows. */
const freshSource = () => `198.18.${Math.floor(Math.random() * 250)}.${++seq % 250}`;

describe("GET /auth-failures", () => {
  it("aggregates by source, reason and hour, newest hour first, busiest first, with totals", async () => {
    const source = freshSource();
    const hour = Math.floor(Date.now() / HOUR) * HOUR;
    await record([
      failure(source, "invalid_key", hour + 1_000),
      failure(source, "invalid_key", hour + 2_000),
      failure(source, "invalid_key", hour + 3_000),
      failure(source, "malformed_key", hour + 4_000),
      failure(source, "invalid_key", hour - HOUR + 5_000),
    ]);
    const page = await expectJson<Page>(await adminFetch(`/auth-failures?source=${source}`), 200);
    expect(page.data.buckets.map((b) => [b.hour, b.reason, b.count])).toEqual([
      [new Date(hour).toISOString(), "invalid_key", 3],
      [new Date(hour).toISOString(), "malformed_key", 1],
      [new Date(hour - HOUR).toISOString(), "invalid_key", 1],
    ]);
    expect(page.data.buckets[0]).toMatchObject({ source, first_seen_at: new Date(hour + 1_000).toISOString(), last_seen_at: new Date(hour + 3_000).toISOString() });
    expect(page.data.totals).toEqual({ failures: 5, buckets: 3, sources: 1 });
    expect(page.pagination).toEqual({ page: 1, per_page: 20, total: 3 });
  });

  it("pages, and filters by reason and time", async () => {
    const source = freshSource();
    const hour = Math.floor(Date.now() / HOUR) * HOUR;
    await record([0, 1, 2, 3].map((h) => failure(source, "missing_credentials", hour - h * HOUR + 10)));
    const second = await expectJson<Page>(await adminFetch(`/auth-failures?source=${source}&per_page=3&page=2`), 200);
    expect(second.data.buckets.map((b) => b.hour)).toEqual([new Date(hour - 3 * HOUR).toISOString()]);
    expect(second.data.totals.failures).toBe(4);
    const recent = await expectJson<Page>(await adminFetch(`/auth-failures?source=${source}&since=${new Date(hour - HOUR).toISOString()}`), 200);
    expect(recent.data.buckets).toHaveLength(2);
    expect((await expectJson<Page>(await adminFetch(`/auth-failures?source=${source}&reason=invalid_key`), 200)).data.totals).toEqual({ failures: 0, buckets: 0, sources: 0 });
  });

  it("is the operator's only: an org key, even admin, gets 403", async () => {
    const { id } = await createOrg();
    const { key } = await createKey(id, { scopes: ["admin"] });
    await expectError(await keyFetch(key, `${MANAGEMENT}/auth-failures`), 403, "forbidden");
    await expectError(await gatewayFetch(`${MANAGEMENT}/auth-failures`), 401, "missing_credentials");
  });

  it("refuses bad filters with the field named", async () => {
    for (const [query, field] of [["per_page=101", "per_page"], ["since=yesterday", "since"], ["reason=Bad-Code", "reason"], ["page=0", "page"]] as const) {
      const body = await expectError(await adminFetch(`/auth-failures?${query}`), 400, "validation_error");
      expect(body.error.details?.[0]?.field).toBe(field);
    }
  });
});
