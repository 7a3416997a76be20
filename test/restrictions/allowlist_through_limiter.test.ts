// allowed_ips changed "at another location" (D1 has it and the key's limiter object was told, but this isolate
// still caches the old record): the request the limiter sends back for a fresh record is judged on that record's
// allowlist, as it is on its status (test/ratelimit/disable_through_limiter.test.ts).
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { durableObjectLimiter } from "../../src/ratelimit/durable_object_limiter";
import { expectError } from "../management/support";
import { workerWith } from "../ratelimit/harness";

async function restrictElsewhere(keyId: string, allowedIps: string[] | null) {
  const at = Date.now() + 1; // strictly after the cached record's updated_at
  await env.DB.prepare("UPDATE api_keys SET allowed_ips = ?, updated_at = ? WHERE id = ?").bind(allowedIps === null ? null : JSON.stringify(allowedIps), at, keyId).run();
  await durableObjectLimiter({ namespace: env.RATE_LIMITER }).keyChanged(`key:${keyId}`, keyId, at);
}

describe("allowed_ips through the limiter", () => {
  it("strict: a list set elsewhere refuses the next request with 403 ip_not_allowed although this isolate's cache has none, and spends nothing", async () => {
    const w = workerWith();
    const org = await w.org();
    const key = await w.key(org);
    expect((await w.gateway(key.key)).status).toBe(200); // cached (anywhere) in memory and KV
    await restrictElsewhere(key.id, ["203.0.113.0/24"]); // the test requests carry no CF-Connecting-IP: never inside a list
    const res = await w.gateway(key.key);
    await expectError(res, 403, "ip_not_allowed");
    expect(res.headers.get("x-demo-origin")).toBeNull();
    expect(res.headers.get("x-ratelimit-remaining")).toBeNull();
    await expectError(await w.gateway(key.key), 403, "ip_not_allowed");
  });


  it("fast: an isolate using the key learns of the list from its next report, and refuses the request after", async () => {
    const w = workerWith();
    const org = await w.org();
    const key = await w.key(org, { rate_limits: [{ name: "default", limit: 1_000, window: "60s", mode: "fast" }] });
    for (let i = 0; i < 3; i++) expect((await w.gateway(key.key)).status).toBe(200); // budget heard from the store
    await restrictElsewhere(key.id, ["203.0.113.0/24"]);
    expect((await w.gateway(key.key)).status).toBe(200); // local budget, stale record; its report brings the news
    await expectError(await w.gateway(key.key), 403, "ip_not_allowed");
    await expectError(await w.gateway(key.key), 403, "ip_not_allowed");
  });
});
