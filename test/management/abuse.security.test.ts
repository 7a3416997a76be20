// Issue 18.6: failed operator-token attempts are recorded; a source over AUTH_FAILURE_LIMIT is refused
// before any credential check (management API and hot path); each credential is rate limited on the
// management API. The suite runs with these limits raised (vitest.config.ts); here they are the
// defaults, through the worker's real fetch handler with an env that leaves them unset.
import { env } from "cloudflare:workers";
import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { eq } from "drizzle-orm";
import { drizzle } from "drizzle-orm/d1";
import { describe, expect, it } from "vitest";
import { authFailureRefusal, countAuthFailure } from "../../src/auth/failure_limit";
import { parseConfig } from "../../src/config";
import worker from "../../src/index";
import { authFailures } from "../../src/store/schema";
import { eventually, unknownKey } from "../gateway/seed";
import { frozenClock } from "../clock";
import { createKey, createOrg, MANAGEMENT, ORIGIN } from "../harness";
import { expectError, expectJson } from "./support";

const defaults = { ...env } as Record<string, unknown>;
delete defaults.AUTH_FAILURE_LIMIT;
delete defaults.MANAGEMENT_RATE_LIMIT;
const defaultEnv = defaults as unknown as typeof env;

let sourceCounter = 0;
const run = crypto.getRandomValues(new Uint16Array(2));
/**
 * A fresh client address per test: the limits are per source, and other test files (which may share
 * this isolate's counters) use documentation addresses too, so these are unique to this run.
 */
// Its own /64 each: AUTH_FAILURE_LIMIT counts an IPv6 client by its /64 (src/auth/failure_limit.ts).
const freshSource = () => `2001:${run[0]!.toString(16)}:${run[1]!.toString(16)}:${(++sourceCounter).toString(16)}::1`;

async function call(path: string, headers: Record<string, string>, init: RequestInit = {}, vars = defaultEnv): Promise<Response> {
  const ctx = createExecutionContext();
  const res = await worker.fetch(new Request(ORIGIN + path, { ...init, headers }), vars, ctx);
  await waitOnExecutionContext(ctx);
  return res;
}

const operator = { authorization: `Bearer ${env.ADMIN_TOKEN}` };
const wrongToken = { authorization: "Bearer not-the-admin-token-0123456789" };

describe("failed operator-token attempts (18.6)", () => {
  it("are recorded per source with reason invalid_admin_token, and the token is stored nowhere", async () => {
    const source = freshSource();
    for (let i = 0; i < 3; i++) await expectError(await call(`${MANAGEMENT}/orgs`, { ...wrongToken, "cf-connecting-ip": source }), 401, "unauthorized");
    const rows = await eventually(async () => {
      const found = await drizzle(env.DB).select().from(authFailures).where(eq(authFailures.source, source));
      return found.reduce((n, r) => n + r.count, 0) >= 3 ? found : undefined;
    });
    expect(rows.map((r) => [r.reason, r.count])).toEqual([["invalid_admin_token", 3]]);
    expect(JSON.stringify(rows)).not.toContain("not-the-admin-token");
  });
});

describe("AUTH_FAILURE_LIMIT (default 20 per 60 s)", () => {
  it("management API: after 20 failures the source gets 429 too_many_auth_failures, even with the right token; other sources are unaffected", async () => {
    const source = freshSource();
    for (let i = 0; i < 20; i++) await expectError(await call(`${MANAGEMENT}/orgs`, { ...wrongToken, "cf-connecting-ip": source }), 401, "unauthorized");
    const refused = await call(`${MANAGEMENT}/orgs`, { ...operator, "cf-connecting-ip": source });
    await expectError(refused, 429, "too_many_auth_failures");
    const retryAfter = Number(refused.headers.get("retry-after"));
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    // Until the shared count gives a failure back: the 60 s window plus at most one bucket (6 s) of the exact sliding window.
    expect(retryAfter).toBeLessThanOrEqual(66);
    await expectJson(await call(`${MANAGEMENT}/orgs`, { ...operator, "cf-connecting-ip": freshSource() }), 200);
  });

  it("hot path: bad keys count too, and a blocked source is refused before its (valid) key is looked at", async () => {
    // Malformed keys are counted in this isolate only, in fixed 60 s windows weighted across a boundary: on the
    // real clock a boundary falling among the 20 failures (and the refusal more than 6 s after it) let the source through.
    frozenClock();
    const { id } = await createOrg();
    const { key } = await createKey(id);
    const source = freshSource();
    for (let i = 0; i < 10; i++) await expectError(await call("/demo/items", { "x-api-key": unknownKey(), "cf-connecting-ip": source }), 401, "invalid_key");
    for (let i = 0; i < 10; i++) await expectError(await call("/demo/items", { "x-api-key": "kg_garbage", "cf-connecting-ip": source }), 401, "malformed_key");
    await expectError(await call("/demo/items", { "x-api-key": key, "cf-connecting-ip": source }), 429, "too_many_auth_failures");
    // One limit for both surfaces: the management API refuses this source as well.
    await expectError(await call(`${MANAGEMENT}/orgs`, { ...operator, "cf-connecting-ip": source }), 429, "too_many_auth_failures");
    expect((await call("/demo/items", { "x-api-key": key, "cf-connecting-ip": freshSource() })).status).toBe(200);
  });

  it("answers given before a credential is known carry the address's failed-authentication budget", async () => {
    const source = freshSource();
    const first = await call(`${MANAGEMENT}/orgs`, { ...wrongToken, "cf-connecting-ip": source });
    await expectError(first, 401, "unauthorized");
    expect(first.headers.get("ratelimit-policy")).toBe('"auth_failures";q=20;w=60');
    expect(first.headers.get("x-ratelimit-remaining")).toBe("19");
    expect(first.headers.get("www-authenticate")).toContain("Bearer");
    const missing = await call(`${MANAGEMENT}/orgs`, { "cf-connecting-ip": source });
    await expectError(missing, 401, "missing_credentials");
    expect(missing.headers.get("x-ratelimit-remaining")).toBe("19");
    for (let i = 0; i < 19; i++) await call(`${MANAGEMENT}/orgs`, { ...wrongToken, "cf-connecting-ip": source });
    const refused = await call(`${MANAGEMENT}/orgs`, { ...operator, "cf-connecting-ip": source });
    await expectError(refused, 429, "too_many_auth_failures");
    expect(refused.headers.get("ratelimit")).toMatch(/^"auth_failures";r=0;t=\d+$/);
    expect(refused.headers.get("x-ratelimit-remaining")).toBe("0");
  });

  it("missing credentials are not failures, and 19 failures leave the source working", async () => {
    const source = freshSource();
    for (let i = 0; i < 30; i++) await expectError(await call(`${MANAGEMENT}/orgs`, { "cf-connecting-ip": source }), 401, "missing_credentials");
    for (let i = 0; i < 19; i++) await expectError(await call(`${MANAGEMENT}/orgs`, { ...wrongToken, "cf-connecting-ip": source }), 401, "unauthorized");
    await expectJson(await call(`${MANAGEMENT}/orgs`, { ...operator, "cf-connecting-ip": source }), 200);
  });

  it("follows the configured AUTH_FAILURE_LIMIT", async () => {
    const vars = { ...defaultEnv, AUTH_FAILURE_LIMIT: "3/60s" } as typeof env;
    const source = freshSource();
    for (let i = 0; i < 3; i++) await expectError(await call(`${MANAGEMENT}/orgs`, { ...wrongToken, "cf-connecting-ip": source }, {}, vars), 401, "unauthorized");
    await expectError(await call(`${MANAGEMENT}/orgs`, { ...operator, "cf-connecting-ip": source }, {}, vars), 429, "too_many_auth_failures");
  });
});

describe("AUTH_FAILURE_LIMIT at a window boundary", () => {
  // Isolate-local counting only (shared: false), at chosen instants: the counting itself, without the store.
  const config = parseConfig({ TIERS: { free: { limit: 60, window: "60s" } }, AUTH_FAILURE_LIMIT: "3/60s" });
  const boundary = (Math.floor(Date.now() / 60_000) + 1_000) * 60_000;

  it("a burst that straddles the boundary is still refused (the previous window counts, weighted)", async () => {
    const source = freshSource();
    await countAuthFailure(config, env, source, { shared: false }, boundary - 200);
    await countAuthFailure(config, env, source, { shared: false }, boundary - 100);
    expect(authFailureRefusal(source, boundary - 50)).toBeNull();
    await countAuthFailure(config, env, source, { shared: false }, boundary + 100);
    const refusal = authFailureRefusal(source, boundary + 150);
    expect(refusal?.code).toBe("too_many_auth_failures");
    // For the rest of that window, then the source may try again.
    expect(authFailureRefusal(source, boundary + 59_000)?.code).toBe("too_many_auth_failures");
    expect(authFailureRefusal(source, boundary + 60_000)).toBeNull();
  });

  it("failures spread over more than two windows do not add up", async () => {
    const source = freshSource();
    for (let i = 0; i < 6; i++) await countAuthFailure(config, env, source, { shared: false }, boundary + i * 60_000 + 30_000);
    expect(authFailureRefusal(source, boundary + 6 * 60_000)).toBeNull();
  });
});

describe("MANAGEMENT_RATE_LIMIT (default 600 per 60 s, per credential)", () => {
  it("sends the rate-limit headers on success and error answers", async () => {
    const { id } = await createOrg();
    const { key } = await createKey(id, { scopes: ["keys:read"] });
    const ok = await call(`${MANAGEMENT}/orgs/${id}/keys`, { authorization: `Bearer ${key}` });
    expect(ok.status).toBe(200);
    expect(ok.headers.get("ratelimit-policy")).toBe('"default";q=600;w=60');
    expect(ok.headers.get("x-ratelimit-limit")).toBe("600");
    expect(Number(ok.headers.get("x-ratelimit-remaining"))).toBe(599);
    const missing = await call(`${MANAGEMENT}/orgs/${id}/keys/key_doesnotexist000000`, { authorization: `Bearer ${key}` });
    await expectError(missing, 404, "not_found");
    expect(missing.headers.get("x-ratelimit-remaining")).toBe("598");
  });

  it("answers 429 rate_limited with Retry-After once a key's budget is spent; other credentials keep theirs", async () => {
    const vars = { ...defaultEnv, MANAGEMENT_RATE_LIMIT: "5/60s" } as typeof env;
    const { id } = await createOrg();
    const { key } = await createKey(id, { scopes: ["keys:read"] });
    const { key: other } = await createKey(id, { scopes: ["keys:read"] });
    for (let i = 0; i < 5; i++) expect((await call(`${MANAGEMENT}/orgs/${id}/keys`, { authorization: `Bearer ${key}` }, {}, vars)).status).toBe(200);
    const limited = await call(`${MANAGEMENT}/orgs/${id}/keys`, { authorization: `Bearer ${key}` }, {}, vars);
    await expectError(limited, 429, "rate_limited");
    expect(Number(limited.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
    expect(limited.headers.get("x-ratelimit-remaining")).toBe("0");
    expect((await call(`${MANAGEMENT}/orgs/${id}/keys`, { authorization: `Bearer ${other}` }, {}, vars)).status).toBe(200);
  });
});
