// SPEC §7: one store round trip per strict request for all of a key's policies (burst, default,
// quota and the org aggregate), none per fast request on the local budget; and revocation through
// the limiter, seen by requests whose cached key record is stale.
import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type { Env } from "../../src/env";
import { durableObjectLimiter } from "../../src/ratelimit/durable_object_limiter";
import { expectError } from "../management/support";
import { frozenClock } from "../clock";
import { drizzle } from "drizzle-orm/d1";
import { tellLimiterTierChanged } from "../../src/management/limiter_notice";
import { liveKeys } from "../../src/store/keys";
import { findKeyRecordByHash } from "../../src/store/key_records";
import { configFor, ownBridge, workerWith } from "./harness";

const THREE_POLICIES = (mode: "strict" | "fast") =>
  JSON.stringify({
    free: { limit: 60, window: "60s" },
    metered: {
      limits: [
        { name: "burst", limit: 1_000, window: "1s" },
        { name: "default", limit: 10_000, window: "60s" },
      ],
      quota: { limit: 1_000_000, period: "month" },
      org_limit: 100_000,
      mode,
    },
  });

/** The Durable Object binding with every stub handed out counted: the limiter makes one stub per call. */
function countingNamespace() {
  const counted = { calls: 0 };
  const namespace = {
    idFromName: (name: string) => env.RATE_LIMITER.idFromName(name),
    idFromString: (id: string) => env.RATE_LIMITER.idFromString(id),
    newUniqueId: () => env.RATE_LIMITER.newUniqueId(),
    get: (id: DurableObjectId) => {
      counted.calls++;
      return env.RATE_LIMITER.get(id);
    },
    getByName: (name: string) => {
      counted.calls++;
      return env.RATE_LIMITER.getByName(name);
    },
    jurisdiction: () => namespace,
  } as unknown as Env["RATE_LIMITER"];
  return { namespace, counted };
}

describe("one round trip per request", () => {
  it("Durable Object, strict: burst + default + monthly quota + org aggregate cost one call per request", async () => {
    const { namespace, counted } = countingNamespace();
    const w = workerWith({ TIERS: THREE_POLICIES("strict"), RATE_LIMITER: namespace });
    const org = await w.org("metered");
    const key = await w.key(org);
    counted.calls = 0;
    for (let i = 0; i < 20; i++) {
      const res = await w.gateway(key.key);
      expect(res.status).toBe(200);
      expect(res.headers.get("RateLimit-Policy")).toBe('"burst";q=1000;w=1, "default";q=10000;w=60, "quota";q=1000000;w=2592000, "org";q=100000;w=60');
    }
    expect(counted.calls).toBe(20);
  });

  it("Durable Object, fast: most requests cost no call at all", async () => {
    const { namespace, counted } = countingNamespace();
    const w = workerWith({ TIERS: THREE_POLICIES("fast"), RATE_LIMITER: namespace });
    const org = await w.org("metered");
    const key = await w.key(org);
    counted.calls = 0;
    expect((await w.gateway(key.key)).status).toBe(200); // the isolate's first ask
    const statuses = await Promise.all(Array.from({ length: 40 }, () => w.gateway(key.key)));
    expect(statuses.every((res) => res.status === 200)).toBe(true);
    // One synchronous ask, then the 40 concurrent requests decided locally and reported together in a batch or two.
    expect(counted.calls).toBeLessThanOrEqual(4);
  });

  it("a key hammering at 429 costs at most one store call per isolate per second, with the same Retry-After", async () => {
    // On a clock the test moves: "per second" is then exact, not a bound computed from how long the loop took.
    const clock = frozenClock();
    const { namespace, counted } = countingNamespace();
    const w = workerWith({ RATE_LIMITER: namespace });
    const org = await w.org();
    const key = await w.key(org, { rate_limits: [{ name: "default", limit: 2, window: "60s" }] });
    for (let i = 0; i < 2; i++) expect((await w.gateway(key.key)).status).toBe(200);
    counted.calls = 0;
    const refused = [];
    for (let i = 0; i < 10; i++) refused.push(await w.gateway(key.key));
    expect(refused.every((res) => res.status === 429)).toBe(true);
    expect(counted.calls).toBe(1); // ten refusals within one second: one store call
    for (const res of refused) expect(res.headers.get("Retry-After")).toBe(res.headers.get("X-RateLimit-Reset"));
    expect(new Set(refused.map((res) => res.headers.get("Retry-After")))).toEqual(new Set(["66"])); // the 6 s bucket leaves the 60 s window 66 s on
    // A second later: one more call, and the Retry-After has counted down.
    clock.advance(1_000);
    const later = await w.gateway(key.key);
    expect(later.status).toBe(429);
    expect(counted.calls).toBe(2);
    expect(later.headers.get("Retry-After")).toBe("65");
  });

  it("Upstash, strict: one script call per request for all four policies", async () => {
    const bridge = await ownBridge();
    try {
      const w = workerWith({ TIERS: THREE_POLICIES("strict"), RATE_LIMIT_BACKEND: "upstash", UPSTASH_REDIS_REST_URL: bridge.url });
      const org = await w.org("metered");
      const key = await w.key(org);
      expect((await w.gateway(key.key)).status).toBe(200); // the first call may load the script (EVALSHA miss, then EVAL)
      const before = await bridge.requests();
      for (let i = 0; i < 20; i++) expect((await w.gateway(key.key)).status).toBe(200);
      expect((await bridge.requests()) - before).toBe(20);
    } finally {
      await bridge.close();
    }
  });
});

describe("revocation through the limiter (Durable Object backend)", () => {
  /** Revoked "at another location": D1 says revoked and the limiter object was told, but this isolate's memory cache (and KV, in production for up to ~60 s) still hold the active record. */
  async function revokeElsewhere(orgId: string, keyId: string, scope: string) {
    const at = Date.now();
    await env.DB.prepare("UPDATE api_keys SET revoked_at = ? WHERE id = ?").bind(at, keyId).run();
    await durableObjectLimiter({ namespace: env.RATE_LIMITER }).endKey(scope, keyId, { reason: "revoked", at });
    return at;
  }

  it("the revoke endpoint tells the key's limiter object (and rotate tells it about the old key)", async () => {
    const w = workerWith();
    const org = await w.org();
    const key = await w.key(org);
    const revoked = await w.api(`/orgs/${org}/keys/${key.id}/revoke`, { method: "POST" });
    expect(revoked.status).toBe(200);
    const stub = env.RATE_LIMITER.get(env.RATE_LIMITER.idFromName(`key:${key.id}`));
    const ends = await runInDurableObject(stub, (_, state) => state.storage.sql.exec<{ key_id: string; reason: string }>("SELECT key_id, reason FROM key_ends").toArray());
    expect(ends).toEqual([{ key_id: key.id, reason: "revoked" }]);

    const old = await w.key(org);
    const rotated = await w.api(`/orgs/${org}/keys/${old.id}/rotate`, { json: { grace_period: "1h" } });
    expect(rotated.status).toBe(201);
    const chain = env.RATE_LIMITER.get(env.RATE_LIMITER.idFromName(`key:${old.id}`));
    const graceEnds = await runInDurableObject(chain, (_, state) => state.storage.sql.exec<{ key_id: string; reason: string; at: number }>("SELECT key_id, reason, at FROM key_ends").toArray());
    expect(graceEnds).toEqual([{ key_id: old.id, reason: "expired", at: expect.any(Number) }]);
    expect(graceEnds[0]!.at).toBeGreaterThan(Date.now() + 3_500_000);
  });

  it("strict: the next request answers 401 key_revoked although this isolate's cache still says active", async () => {
    const w = workerWith();
    const org = await w.org();
    const key = await w.key(org);
    expect((await w.gateway(key.key)).status).toBe(200); // cached in memory and KV
    await revokeElsewhere(org, key.id, `key:${key.id}`);
    const res = await w.gateway(key.key);
    await expectError(res, 401, "key_revoked");
    expect(res.headers.get("WWW-Authenticate")).toContain("invalid_token");
    expect(res.headers.get("x-demo-origin")).toBeNull();
  });

  it("strict, org aggregate tier: the org's object knows which of its keys ended, and only that one", async () => {
    const w = workerWith({ TIERS: THREE_POLICIES("strict") });
    const org = await w.org("metered");
    const a = await w.key(org);
    const b = await w.key(org);
    expect((await w.gateway(a.key)).status).toBe(200);
    expect((await w.gateway(b.key)).status).toBe(200);
    await revokeElsewhere(org, a.id, `org:${org}`);
    await expectError(await w.gateway(a.key), 401, "key_revoked");
    expect((await w.gateway(b.key)).status).toBe(200);
  });

  it("fast: an isolate using the key learns of the revocation from the report its next request sends, and refuses the request after", async () => {
    const w = workerWith();
    const org = await w.org();
    const key = await w.key(org, { rate_limits: [{ name: "default", limit: 1_000, window: "60s", mode: "fast" }] });
    for (let i = 0; i < 3; i++) expect((await w.gateway(key.key)).status).toBe(200); // budget heard from the store
    await revokeElsewhere(org, key.id, `key:${key.id}`);
    // Still admitted from the local budget and the stale cache: the request is not delayed by a store call...
    expect((await w.gateway(key.key)).status).toBe(200);
    // ...but its background report (sent within REPORT_DELAY_MS, awaited with the request's waitUntil) brought the news.
    await expectError(await w.gateway(key.key), 401, "key_revoked");
  });

  /** Changed "at another location": D1 has the new scopes and the limiter object was told, but this isolate still caches the old record. */
  async function narrowScopesElsewhere(keyId: string, scope: string, scopes: string[]) {
    const at = Date.now() + 1; // strictly after the cached record's updated_at
    await env.DB.prepare("UPDATE api_keys SET scopes = ?, updated_at = ? WHERE id = ?").bind(JSON.stringify(scopes), at, keyId).run();
    await durableObjectLimiter({ namespace: env.RATE_LIMITER }).keyChanged(scope, keyId, at);
  }

  it("PATCH tells the key's limiter object when the key changed", async () => {
    const w = workerWith();
    const org = await w.org();
    const key = await w.key(org);
    expect((await w.api(`/orgs/${org}/keys/${key.id}`, { method: "PATCH", json: { name: "renamed" } })).status).toBe(200);
    const stub = env.RATE_LIMITER.get(env.RATE_LIMITER.idFromName(`key:${key.id}`));
    const changes = await runInDurableObject(stub, (_, state) => state.storage.sql.exec<{ key_id: string }>("SELECT key_id FROM key_changes").toArray());
    expect(changes).toEqual([{ key_id: key.id }]);
  });

  it("strict: a request holding a record older than the key's last change is decided on the current one", async () => {
    const w = workerWith();
    const org = await w.org();
    const key = await w.key(org, { scopes: ["demo:read", "demo:write"] });
    expect((await w.gateway(key.key, "/demo/items", "POST")).status).toBe(200); // cached with demo:write
    await narrowScopesElsewhere(key.id, `key:${key.id}`, ["demo:read"]);
    // The stale record still says demo:write; the limiter says it changed; D1's record does not have it.
    await expectError(await w.gateway(key.key, "/demo/items", "POST"), 403, "insufficient_scope");
    const read = await w.gateway(key.key, "/demo/items");
    expect(read.status).toBe(200);
    expect(JSON.parse(await read.text()).headers["x-keygate-scopes"]).toBe("demo:read");
    // Counted once per admitted request: the refused stale attempt spent nothing.
    expect(read.headers.get("RateLimit")).toMatch(/^"default";r=58;/);
  });

  it("fast: an isolate using the key learns of the change from its next report", async () => {
    const w = workerWith();
    const org = await w.org();
    const key = await w.key(org, { scopes: ["demo:read", "demo:write"], rate_limits: [{ name: "default", limit: 1_000, window: "60s", mode: "fast" }] });
    for (let i = 0; i < 3; i++) expect((await w.gateway(key.key, "/demo/items", "POST")).status).toBe(200);
    await narrowScopesElsewhere(key.id, `key:${key.id}`, ["demo:read"]);
    expect((await w.gateway(key.key, "/demo/items", "POST")).status).toBe(200); // local budget, stale record
    await expectError(await w.gateway(key.key, "/demo/items", "POST"), 403, "insufficient_scope");
    expect((await w.gateway(key.key, "/demo/items")).status).toBe(200);
  });
});

describe("an org's tier change through the limiter (Durable Object backend)", () => {
  it("PATCH /orgs/{org} with a new tier tells every live key's limiter object, under the old tier's scope", async () => {
    const w = workerWith({ TIERS: THREE_POLICIES("strict") });
    const org = await w.org("metered");
    const a = await w.key(org);
    const b = await w.key(org);
    const revoked = await w.key(org);
    expect((await w.api(`/orgs/${org}/keys/${revoked.id}/revoke`, { method: "POST" })).status).toBe(200);
    expect((await w.api(`/orgs/${org}`, { method: "PATCH", json: { tier: "free" } })).status).toBe(200);
    const stub = env.RATE_LIMITER.get(env.RATE_LIMITER.idFromName(`org:${org}`));
    const changes = await runInDurableObject(stub, (_, state) => state.storage.sql.exec<{ key_id: string }>("SELECT key_id FROM key_changes ORDER BY key_id").toArray());
    expect(changes).toEqual([{ key_id: a.id }, { key_id: b.id }].sort((x, y) => (x.key_id < y.key_id ? -1 : 1)));
  });

  it("strict: a request holding a record cached with the old tier is decided on the new tier's limits, and the record it rereads is current", async () => {
    const w = workerWith({ TIERS: THREE_POLICIES("strict") });
    const org = await w.org("free");
    const key = await w.key(org);
    const cached = await w.gateway(key.key); // cached in memory and KV with tier "free"
    expect(cached.headers.get("RateLimit-Policy")).toBe('"default";q=60;w=60');

    // Upgraded "at another location": D1 has the new tier and the limiter was told; this isolate's cache was not purged.
    const at = Date.now() + 1;
    await env.DB.prepare("UPDATE orgs SET tier = 'metered', updated_at = ? WHERE id = ?").bind(at, org).run();
    await tellLimiterTierChanged({ config: configFor("durable-object", { TIERS: JSON.parse(THREE_POLICIES("strict")) }), limiter: durableObjectLimiter({ namespace: env.RATE_LIMITER }) }, "free", await liveKeys(drizzle(env.DB), org), at);

    const upgraded = await w.gateway(key.key);
    expect(upgraded.status).toBe(200);
    expect(upgraded.headers.get("RateLimit-Policy")).toBe('"burst";q=1000;w=1, "default";q=10000;w=60, "quota";q=1000000;w=2592000, "org";q=100000;w=60');
    expect(JSON.parse(await upgraded.text()).headers["x-keygate-tier"]).toBe("metered");
    // The reread record carries the org's change as its version, so it is not sent back to D1 again.
    const row = await env.DB.prepare("SELECT hash FROM api_keys WHERE id = ?").bind(key.id).first<{ hash: string }>();
    expect((await findKeyRecordByHash(env.DB, row!.hash))!.updatedAt).toBe(at);
  });
});
