// A key change is committed in D1 first; purging the caches, telling the limiter and queueing the webhooks
// follow. A failing store in one of those follow-ups (or a later batch of a big revocation) must neither hide
// the committed change from the client nor cost the other follow-ups: otherwise the change is made but
// not enforced elsewhere and never announced, and a repeat (a no-op now) cannot finish the job.
import { env } from "cloudflare:workers";
import { beforeEach, describe, expect, it } from "vitest";
import type { Env } from "../../src/env";
import { resetLogThrottle } from "../../src/log";
import { hashKey } from "../../src/keys/hash";
import { createKey, createOrg, MANAGEMENT } from "../harness";
import { expectError, expectJson } from "../management/support";
import { callWith } from "../gateway/storage";
import { keysEndpoint, leakItems, newGithubSigner, workerWith } from "../leaks/support";
import { delivered } from "../webhooks/support";
import { durableObjectLimiter } from "../../src/ratelimit/durable_object_limiter";

const gateway = (testEnv: Env, key: string) => callWith(testEnv, "/demo/items", { headers: { authorization: `Bearer ${key}` } });

function manage(testEnv: Env, path: string, method: string, json?: unknown) {
  const headers: Record<string, string> = { authorization: `Bearer ${env.ADMIN_TOKEN}` };
  if (json !== undefined) headers["content-type"] = "application/json";
  return callWith(testEnv, `${MANAGEMENT}${path}`, { method, headers, body: json === undefined ? undefined : JSON.stringify(json) });
}

/** The real KV binding whose deletes fail (reads and writes work): the worst case for a purge. */
function kvDeletesFailing(): KVNamespace {
  return new Proxy(env.KEY_CACHE, {
    get(target, prop) {
      if (prop === "delete") return () => Promise.reject(new Error("KV delete failed (injected fault)"));
      const value = Reflect.get(target, prop) as unknown;
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}

/** Quiet the expected "KV delete failed" log lines of one test. */
async function withoutErrorLog<T>(run: () => Promise<T>): Promise<T> {
  const original = console.error;
  console.error = () => {};
  try {
    return await run();
  } finally {
    console.error = original;
  }
}

beforeEach(() => resetLogThrottle());

describe("key changes with KV failing", () => {
  it("disable, revoke and rotate still answer success, take effect on the next request and are announced", async () => {
    const { id: orgId } = await createOrg();
    const disabled = await createKey(orgId);
    const revoked = await createKey(orgId);
    const rotated = await createKey(orgId);
    // Warm: each record now sits in isolate memory and in KV.
    for (const { key } of [disabled, revoked, rotated]) expect((await gateway(env, key)).status).toBe(200);

    // Only KV deletes fail (reads still serve the old record): the worst case for a purge.
    const kvDeletesFail: Env = { ...env, KEY_CACHE: kvDeletesFailing() };
    await withoutErrorLog(async () => {
      expect((await manage(kvDeletesFail, `/orgs/${orgId}/keys/${disabled.id}`, "PATCH", { enabled: false })).status).toBe(200);
      expect((await manage(kvDeletesFail, `/orgs/${orgId}/keys/${revoked.id}/revoke`, "POST")).status).toBe(200);
      expect((await manage(kvDeletesFail, `/orgs/${orgId}/keys/${rotated.id}/rotate`, "POST", {})).status).toBe(201);
    });

    // The limiter (Durable Object, strict tier) was told, so the stale KV entries admit nothing.
    await expectError(await gateway(env, disabled.key), 401, "key_disabled");
    await expectError(await gateway(env, revoked.key), 401, "key_revoked");
    await expectError(await gateway(env, rotated.key), 401, "key_revoked");

    const types = (await delivered(orgId, 7)).filter((d) => d.status < 300).map((d) => d.body!.type);
    expect(types.filter((t) => t !== "key.created").sort()).toEqual(["key.disabled", "key.revoked", "key.rotated"]);
  });
});

describe("a leak report whose later revocation batch fails", () => {
  it("the keys revoked before the failure are purged, told and announced; GitHub's retry finishes the rest, each once", async () => {
    const keys = keysEndpoint();
    const signer = await newGithubSigner();
    await keys.publish(signer);
    const { id: orgId } = await createOrg({ max_active_keys: 100 });
    const created = [];
    for (let i = 0; i < 60; i++) created.push(await createKey(orgId));
    for (const { key } of created) expect((await gateway(env, key)).status).toBe(200);

    // D1 batches: 1 looks the tokens up, 2 revokes the first 50 keys, 3 (the last 10) fails.
    let batches = 0;
    const DB = new Proxy(env.DB, {
      get(target, prop) {
        const value = Reflect.get(target, prop) as unknown;
        if (typeof value !== "function") return value;
        if (prop === "batch") {
          return (...args: unknown[]) => {
            if (++batches === 3) throw new Error("D1 is unavailable (injected fault)");
            return (value as (...a: unknown[]) => unknown).apply(target, args);
          };
        }
        return (value as (...a: unknown[]) => unknown).bind(target);
      },
    });
    const body = JSON.stringify(leakItems(created.map(({ key }) => ({ token: key }))));
    const failed = await workerWith({ GITHUB_SECRET_SCANNING_KEYS_URL: keys.url, DB }).report(body, signer);
    expect(failed.status).toBeGreaterThanOrEqual(500);
    await failed.body?.cancel();

    // The first 50 are revoked and refused at once, with the strict tier's limiter told.
    for (const { key } of created.slice(0, 50)) await expectError(await gateway(env, key), 401, "key_revoked");
    for (const { key } of created.slice(50)) expect((await gateway(env, key)).status).toBe(200);

    // GitHub sends the report again: the rest are revoked; every key has exactly one key.revoked event.
    const labels = await expectJson<{ token_hash: string; label: string }[]>(await workerWith({ GITHUB_SECRET_SCANNING_KEYS_URL: keys.url }).report(body, signer), 200);
    expect(labels.every((l) => l.label === "true_positive")).toBe(true);
    expect(labels[0]!.token_hash).toBe(await hashKey(created[0]!.key));
    for (const { key } of created.slice(50)) await expectError(await gateway(env, key), 401, "key_revoked");
    const revokedEvents = (await delivered(orgId, 180)).filter((d) => d.status < 300 && d.body!.type === "key.revoked");
    expect(revokedEvents.map((d) => d.body!.data.key_id).sort()).toEqual(created.map((c) => c.id).sort());
  });
});

describe("a stale record flagged by the limiter, with KV deletes failing", () => {
  it("is decided on D1's record, without a 500", async () => {
    const { id: orgId } = await createOrg();
    const { id: keyId, key } = await createKey(orgId, { scopes: ["demo:read", "demo:write"] });
    const post = { method: "POST", headers: { authorization: `Bearer ${key}` } };
    expect((await callWith(env, "/demo/items", post)).status).toBe(200); // cached (memory and KV) with demo:write
    // Narrowed at "another location": D1 and the limiter object know, this isolate's memory and KV do not.
    const at = Date.now() + 1;
    await env.DB.prepare("UPDATE api_keys SET scopes = ?, updated_at = ? WHERE id = ?").bind(JSON.stringify(["demo:read"]), at, keyId).run();
    await durableObjectLimiter({ namespace: env.RATE_LIMITER }).keyChanged(`key:${keyId}`, keyId, at);
    const kvDeletesFail: Env = { ...env, KEY_CACHE: kvDeletesFailing() };
    await withoutErrorLog(async () => {
      await expectError(await callWith(kvDeletesFail, "/demo/items", post), 403, "insufficient_scope");
    });
  });
});
