// Issue 14.2: suspending a key (PATCH {enabled}) reaches the key's limiter object like revocation does, so a
// strict request holding a stale cached record sees it at once; unlike revocation, re-enabling undoes it.
import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { durableObjectLimiter } from "../../src/ratelimit/durable_object_limiter";
import { expectError } from "../management/support";
import { clockPast } from "../clock";
import { workerWith } from "./harness";

/** Disabled "at another location": D1 has it and the limiter object was told, but this isolate still caches the old record. */
async function disableElsewhere(keyId: string) {
  const at = Date.now() + 1; // strictly after the cached record's updated_at
  await env.DB.prepare("UPDATE api_keys SET disabled_at = ?, updated_at = ? WHERE id = ?").bind(at, at, keyId).run();
  await durableObjectLimiter({ namespace: env.RATE_LIMITER }).keyChanged(`key:${keyId}`, keyId, at);
}

describe("enabled through the limiter", () => {
  it("PATCH {enabled: false} and {enabled: true} each tell the key's limiter object", async () => {
    const w = workerWith();
    const org = await w.org();
    const key = await w.key(org);
    const stub = env.RATE_LIMITER.get(env.RATE_LIMITER.idFromName(`key:${key.id}`));
    const changedAt = () => runInDurableObject(stub, (_, state) => state.storage.sql.exec<{ at: number }>("SELECT at FROM key_changes WHERE key_id = ?", key.id).toArray()[0]?.at);
    expect(await changedAt()).toBeUndefined();
    expect((await w.api(`/orgs/${org}/keys/${key.id}`, { method: "PATCH", json: { enabled: false } })).status).toBe(200);
    const disabledAt = await changedAt();
    expect(disabledAt).toEqual(expect.any(Number));
    await clockPast(disabledAt!); // the next change must carry a later time than this one
    expect((await w.api(`/orgs/${org}/keys/${key.id}`, { method: "PATCH", json: { enabled: true } })).status).toBe(200);
    expect(await changedAt()).toBeGreaterThan(disabledAt!);
  });

  it("strict: the next request answers 401 key_disabled although this isolate's cache still says enabled, and re-enabling restores it", async () => {
    const w = workerWith();
    const org = await w.org();
    const key = await w.key(org);
    expect((await w.gateway(key.key)).status).toBe(200); // cached (enabled) in memory and KV
    await disableElsewhere(key.id);
    const res = await w.gateway(key.key);
    await expectError(res, 401, "key_disabled");
    expect(res.headers.get("x-demo-origin")).toBeNull();
    // Not an end like revocation: re-enabling (which purges the caches, as disabling does) restores the key.
    expect((await w.api(`/orgs/${org}/keys/${key.id}`, { method: "PATCH", json: { enabled: true } })).status).toBe(200);
    expect((await w.gateway(key.key)).status).toBe(200);
    expect((await w.gateway(key.key)).status).toBe(200);
  });
});
