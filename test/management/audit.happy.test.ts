import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { adminFetch, createKey, createOrg, keyFetch } from "../harness";
import { BEFORE_MONTH_END, clockPast, frozenClock, utcDate } from "../clock";
import { expectJson, orgPath, revokedKey, sleep } from "./support";

interface AuditEvent {
  id: string;
  action: string;
  actor: string;
  key_id: string | null;
  created_at: string;
  last_seen_at: string;
  count: number;
  source: string | null;
  reason: string | null;
  details: Record<string, unknown> | null;
}

interface AuditPage {
  data: AuditEvent[];
  pagination: { page: number; per_page: number; total: number };
}

const audit = async (orgId: string, query = "") => expectJson<AuditPage>(await adminFetch(`/orgs/${orgId}/audit${query}`), 200);

/**
 * Polls until `probe` returns a value (the queue consumer writes auth.failed rows asynchronously). The
 * deadline only bounds a failure: on a loaded machine the queue's way to D1 took over 10 s.
 */
async function eventually<T>(probe: () => Promise<T | undefined>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await sleep(100);
  }
}

describe("audit: happy path", () => {
  it("records every management action, newest first, with the actor", async () => {
    const { id } = await createOrg({ name: "audited" });
    const writer = await createKey(id, { name: "writer", scopes: ["keys:write", "demo:read"] });
    const created = await expectJson<{ data: { id: string } }>(await keyFetch(writer.key, orgPath(id, "/keys"), { json: { name: "by key", scopes: ["demo:read"] } }), 201);
    await expectJson(await adminFetch(`/orgs/${id}/keys/${created.data.id}`, { method: "PATCH", json: { name: "renamed" } }), 200);
    const rotated = await expectJson<{ data: { id: string } }>(await adminFetch(`/orgs/${id}/keys/${created.data.id}/rotate`, { method: "POST" }), 201);
    await expectJson(await keyFetch(writer.key, orgPath(id, `/keys/${rotated.data.id}/revoke`), { method: "POST" }), 200);
    await expectJson(await adminFetch(`/orgs/${id}`, { method: "PATCH", json: { tier: "pro" } }), 200);

    const page = await audit(id);
    expect(page.pagination.total).toBe(8);
    // Batches written in the same millisecond tie on time, so compare as a multiset, then check the order.
    expect(page.data.map((e) => [e.action, e.actor, e.key_id]).sort()).toEqual(
      [
        ["org.created", "operator", null],
        ["key.created", "operator", writer.id],
        ["key.created", writer.id, created.data.id],
        ["key.updated", "operator", created.data.id],
        ["key.rotated", "operator", created.data.id],
        ["key.created", "operator", rotated.data.id],
        ["key.revoked", writer.id, rotated.data.id],
        ["org.updated", "operator", null],
      ].sort(),
    );
    const times = page.data.map((e) => Date.parse(e.created_at));
    expect(times).toEqual([...times].sort((a, b) => b - a));
    expect(page.data[0]).toMatchObject({ action: "org.updated", details: { changes: { tier: { from: "free", to: "pro" } } }, count: 1 });
    expect(page.data.at(-1)).toMatchObject({ action: "org.created", details: { name: "audited", tier: "free", max_active_keys: 25 } });
    const update = page.data.find((e) => e.action === "key.updated")!;
    expect(update.details).toEqual({ changes: { name: { from: "by key", to: "renamed" } } });
    for (const event of page.data) {
      expect(event.count).toBe(1);
      expect(event.last_seen_at).toBe(event.created_at);
      expect(event.source).toBeNull();
      expect(event.reason).toBeNull();
    }
  });

  it("filters by action (one or several), by key and by time range", async () => {
    const { id } = await createOrg();
    const a = await createKey(id);
    const b = await createKey(id);
    // `middle` strictly after every event so far and strictly before the revocation's (the clock, not a guessed pause).
    await clockPast(Date.now());
    const middle = new Date().toISOString();
    await clockPast(Date.parse(middle));
    await adminFetch(`/orgs/${id}/keys/${a.id}/revoke`, { method: "POST" });

    expect((await audit(id, "?action=key.created")).data.map((e) => e.key_id).sort()).toEqual([a.id, b.id].sort());
    expect((await audit(id, "?action=key.revoked,org.created")).data.map((e) => e.action)).toEqual(["key.revoked", "org.created"]);
    expect((await audit(id, `?key_id=${a.id}`)).data.map((e) => e.action)).toEqual(["key.revoked", "key.created"]);
    expect((await audit(id, `?since=${encodeURIComponent(middle)}`)).data.map((e) => e.action)).toEqual(["key.revoked"]);
    expect((await audit(id, `?until=${encodeURIComponent(middle)}`)).pagination.total).toBe(3);
    expect((await audit(id, `?since=2000-01-01&until=2000-12-31`)).data).toEqual([]);
    // A bare date as `until` covers that whole day. The days the events were written on, not "today" read
    // afterwards: past UTC midnight that is the next day, and the range would miss them.
    const days = (await audit(id)).data.map((e) => utcDate(Date.parse(e.created_at))).sort();
    expect((await audit(id, `?since=${days[0]}&until=${days.at(-1)}`)).pagination.total).toBeGreaterThanOrEqual(4);
  });

  it("a bare date covers its whole UTC day and no more: events at 23:59:59.900 and 00:00:00.100 fall on their own days", async () => {
    // Org events only: key events are also webhooks, whose 2031 signatures the test receiver would refuse.
    const clock = frozenClock(BEFORE_MONTH_END); // 2031-01-31T23:59:59.900Z
    const { id } = await createOrg();
    clock.advance(200);
    await expectJson(await adminFetch(`/orgs/${id}`, { method: "PATCH", json: { tier: "pro" } }), 200);
    const actionsOn = async (day: string) => (await audit(id, `?since=${day}&until=${day}`)).data.map((e) => [e.action, e.created_at]);
    expect(await actionsOn("2031-01-31")).toEqual([["org.created", "2031-01-31T23:59:59.900Z"]]);
    expect(await actionsOn("2031-02-01")).toEqual([["org.updated", "2031-02-01T00:00:00.100Z"]]);
    expect((await audit(id, "?until=2031-01-31")).data.map((e) => e.action)).toEqual(["org.created"]);
    expect((await audit(id, "?since=2031-02-01")).data.map((e) => e.action)).toEqual(["org.updated"]);
  });

  it("paginates with totals", async () => {
    const { id } = await createOrg();
    for (let i = 0; i < 4; i++) await createKey(id, { name: `k${i}` });
    const first = await audit(id, "?per_page=2");
    expect(first.pagination).toEqual({ page: 1, per_page: 2, total: 5 });
    expect(first.data).toHaveLength(2);
    const third = await audit(id, "?per_page=2&page=3");
    expect(third.data.map((e) => e.action)).toEqual(["org.created"]);
    const ids = new Set([...first.data, ...(await audit(id, "?per_page=2&page=2")).data, ...third.data].map((e) => e.id));
    expect(ids.size).toBe(5);
  });

  it("lists aggregated auth.failed rows with their count, source, reason and last_seen_at", async () => {
    const { id } = await createOrg();
    const { id: keyId } = await createKey(id);
    const first = Date.parse("2026-03-01T10:05:00Z");
    await env.DB.prepare(
      `INSERT INTO audit_events (id, org_id, action, key_id, actor, source, reason, count, details, created_at, last_seen_at, aggregate_key)
       VALUES (?, ?, 'auth.failed', ?, ?, '203.0.113.9', 'key_revoked', 7, NULL, ?, ?, ?)`,
    )
      .bind(`evt_test${crypto.randomUUID().slice(0, 16)}`, id, keyId, keyId, first, first + 1_800_000, `test|${id}|${keyId}`)
      .run();
    const page = await audit(id, "?action=auth.failed");
    expect(page.data).toEqual([
      {
        id: expect.any(String),
        action: "auth.failed",
        actor: keyId,
        key_id: keyId,
        created_at: "2026-03-01T10:05:00.000Z",
        last_seen_at: "2026-03-01T10:35:00.000Z",
        count: 7,
        source: "203.0.113.9",
        reason: "key_revoked",
        details: null,
      },
    ]);
    // The row spans 10:05-10:35: a window that only overlaps its end still finds it.
    expect((await audit(id, "?action=auth.failed&since=2026-03-01T10:30:00Z")).pagination.total).toBe(1);
    expect((await audit(id, "?action=auth.failed&since=2026-03-01T10:40:00Z")).pagination.total).toBe(0);
  });

  it("a revoked key used on the management API shows up as auth.failed in its org's trail", async () => {
    const { id } = await createOrg();
    const { id: keyId, key } = await revokedKey(id, { scopes: ["admin"] });
    for (let i = 0; i < 2; i++) {
      const res = await keyFetch(key, orgPath(id, "/keys"), { headers: { "cf-connecting-ip": "198.51.100.77" } });
      expect(res.status).toBe(401);
    }
    const row = await eventually(async () => {
      const page = await audit(id, "?action=auth.failed");
      const found = page.data[0];
      return found && found.count >= 2 ? found : undefined;
    });
    expect(row).toMatchObject({ key_id: keyId, source: "198.51.100.77", reason: "key_revoked", count: 2 });
  });

  it("an org key with audit:read reads its own org's trail", async () => {
    const { id } = await createOrg();
    const { key } = await createKey(id, { scopes: ["audit:read"] });
    const page = await expectJson<AuditPage>(await keyFetch(key, orgPath(id, "/audit")), 200);
    expect(page.data.map((e) => e.action)).toEqual(["key.created", "org.created"]);
  });
});
