// End to end through the real local queue: gateway -> USAGE_QUEUE -> consumer -> D1.
import { env, exports } from "cloudflare:workers";
import { and, eq } from "drizzle-orm";
import { drizzle } from "drizzle-orm/d1";
import { describe, expect, it } from "vitest";
import { apiKeys, auditEvents, authFailures, usageEvents } from "../../src/store/schema";
import { eventually, seedKey, unknownKey } from "../gateway/seed";

const db = () => drizzle(env.DB);
const gateway = (path: string, init?: RequestInit) => exports.default.fetch(`http://gw.test${path}`, init);

async function usageRows(keyId: string, atLeast: number) {
  return eventually(async () => {
    const rows = await db().select().from(usageEvents).where(eq(usageEvents.keyId, keyId)).orderBy(usageEvents.at, usageEvents.id);
    return rows.length >= atLeast ? rows : undefined;
  });
}

describe("usage pipeline through the queue", () => {
  it("each call by a valid key becomes a usage row, refused ones included, and sets last_used_at", async () => {
    const { key, id, orgId } = await seedKey({ scopes: ["demo:read"] });
    const started = Date.now();
    expect((await gateway("/demo/items?secret=do-not-store", { headers: { "x-api-key": key } })).status).toBe(200);
    expect((await gateway("/demo/status/404", { headers: { "x-api-key": key } })).status).toBe(404);
    expect((await gateway("/demo/items", { method: "POST", headers: { "x-api-key": key } })).status).toBe(403);

    const rows = await usageRows(id, 3);
    expect(rows).toHaveLength(3);
    expect(rows.map((r) => [r.orgId, r.method, r.path, r.status]).sort()).toEqual(
      [
        [orgId, "GET", "/demo/items", 200],
        [orgId, "GET", "/demo/status/404", 404],
        [orgId, "POST", "/demo/items", 403],
      ].sort(),
    );
    for (const row of rows) {
      expect(row.at).toBeGreaterThanOrEqual(started - 1000);
      expect(row.latencyMs).toBeGreaterThanOrEqual(0);
    }
    const lastUsed = await eventually(async () => (await db().select({ v: apiKeys.lastUsedAt }).from(apiKeys).where(eq(apiKeys.id, id)))[0]?.v ?? undefined);
    expect(lastUsed).toBe(Math.max(...rows.map((r) => r.at)));
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
    expect(await db().select().from(usageEvents).where(eq(usageEvents.keyId, id))).toEqual([]);
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
    for (const table of ["usage_events", "audit_events", "auth_failures"]) {
      const dump = await env.DB.prepare(`SELECT * FROM ${table}`).all();
      expect(JSON.stringify(dump.results)).not.toContain(key.slice(3));
    }
  });
});
