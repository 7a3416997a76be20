// End to end through the real local queue: gateway -> USAGE_QUEUE -> consumer -> D1.
import { env, exports } from "cloudflare:workers";
import { and, eq } from "drizzle-orm";
import { drizzle } from "drizzle-orm/d1";
import { describe, expect, it } from "vitest";
import { apiKeys, auditEvents, authFailures } from "../../src/store/schema";
import { eventually, seedKey, unknownKey } from "../gateway/seed";

const db = () => drizzle(env.DB);
const gateway = (path: string, init?: RequestInit) => exports.default.fetch(`http://gw.test${path}`, init);

/** The key's minute rows once they add up to `atLeast` calls. */
async function minuteRows(keyId: string, atLeast: number) {
  return eventually(async () => {
    const { results } = await env.DB.prepare("SELECT org_id, minute, status_class, count, max_ms FROM usage_minutes WHERE key_id = ? ORDER BY minute, status_class").bind(keyId).all<{ org_id: string; minute: number; status_class: number; count: number; max_ms: number }>();
    return results.reduce((n, r) => n + r.count, 0) >= atLeast ? results : undefined;
  });
}

describe("usage pipeline through the queue", () => {
  it("calls by a valid key become minute and hour aggregates and a recent sample, refused ones included, and set last_used_at", async () => {
    const { key, id, orgId } = await seedKey({ scopes: ["demo:read"] });
    const started = Date.now();
    expect((await gateway("/demo/items?secret=do-not-store", { headers: { "x-api-key": key } })).status).toBe(200);
    expect((await gateway("/demo/items", { headers: { "x-api-key": key } })).status).toBe(200);
    expect((await gateway("/demo/status/404", { headers: { "x-api-key": key } })).status).toBe(404);
    expect((await gateway("/demo/items", { method: "POST", headers: { "x-api-key": key } })).status).toBe(403);

    const minutes = await minuteRows(id, 4);
    const byClass = new Map<number, number>();
    for (const row of minutes) {
      expect(row.org_id).toBe(orgId);
      expect(row.minute % 60_000).toBe(0);
      expect(row.minute).toBeGreaterThanOrEqual(started - 60_000);
      byClass.set(row.status_class, (byClass.get(row.status_class) ?? 0) + row.count);
    }
    expect(Object.fromEntries(byClass)).toEqual({ 2: 2, 4: 2 });
    const hours = await env.DB.prepare("SELECT sum(count) AS n FROM usage_hours WHERE key_id = ?").bind(id).first<{ n: number }>();
    expect(hours?.n).toBe(4);

    const recent = await eventually(async () => {
      const { results } = await env.DB.prepare("SELECT method, path, status, at FROM usage_recent WHERE key_id = ?").bind(id).all<{ method: string; path: string; status: number; at: number }>();
      return results.length >= 4 ? results : undefined;
    });
    expect(recent.map((r) => [r.method, r.path, r.status]).sort()).toEqual(
      [
        ["GET", "/demo/items", 200],
        ["GET", "/demo/items", 200],
        ["GET", "/demo/status/404", 404],
        ["POST", "/demo/items", 403],
      ].sort(),
    );
    const lastUsed = await eventually(async () => (await db().select({ v: apiKeys.lastUsedAt }).from(apiKeys).where(eq(apiKeys.id, id)))[0]?.v ?? undefined);
    expect(lastUsed).toBe(Math.max(...recent.map((r) => r.at)));
  });

  it("with the Analytics Engine binding configured, calls still work and still reach D1", async () => {
    expect(env.USAGE_EVENTS).toBeDefined();
    const { key, id } = await seedKey({ scopes: ["demo:read"] });
    expect((await gateway("/demo/ae", { headers: { "x-api-key": key } })).status).toBe(200);
    expect((await minuteRows(id, 1)).map((r) => r.count)).toEqual([1]);
  });

  it("calls by a revoked key become an aggregated auth.failed audit row for its org, with the client IP", async () => {
    const { key, id, orgId } = await seedKey({ revokedAt: Date.now() - 1000 });
    for (let i = 0; i < 3; i++) {
      expect((await gateway("/demo/x", { headers: { "x-api-key": key, "cf-connecting-ip": "198.51.100.23" } })).status).toBe(401);
    }
    const row = await eventually(async () => {
      const [found] = await db().select().from(auditEvents).where(and(eq(auditEvents.orgId, orgId), eq(auditEvents.action, "auth.failed")));
      return found && found.count >= 3 ? found : undefined;
    });
    expect(row).toMatchObject({ keyId: id, source: "198.51.100.23", reason: "key_revoked", count: 3 });
    // Refused calls are failures, not usage.
    expect((await env.DB.prepare("SELECT count(*) AS n FROM usage_minutes WHERE key_id = ?").bind(id).first<{ n: number }>())?.n).toBe(0);
  });

  it("calls with keys nobody owns are aggregated per source and reason, and the key is stored nowhere", async () => {
    const source = `198.18.${Math.floor(Math.random() * 250)}.${Math.floor(Math.random() * 250)}`;
    const key = unknownKey();
    await gateway("/demo/x", { headers: { "x-api-key": key, "cf-connecting-ip": source } });
    await gateway("/demo/x", { headers: { "x-api-key": key, "cf-connecting-ip": source } });
    await gateway("/demo/x", { headers: { "x-api-key": "kg_garbage", "cf-connecting-ip": source } });
    await gateway("/demo/x", { headers: { "cf-connecting-ip": source } });

    const rows = await eventually(async () => {
      const found = await db().select().from(authFailures).where(eq(authFailures.source, source)).orderBy(authFailures.reason);
      return found.reduce((n, r) => n + r.count, 0) >= 4 ? found : undefined;
    });
    expect(rows.map((r) => [r.reason, r.count])).toEqual([
      ["invalid_key", 2],
      ["malformed_key", 1],
      ["missing_credentials", 1],
    ]);
    for (const table of ["usage_minutes", "usage_recent", "audit_events", "auth_failures"]) {
      const dump = await env.DB.prepare(`SELECT * FROM ${table}`).all();
      expect(JSON.stringify(dump.results)).not.toContain(key.slice(3));
    }
  });
});
