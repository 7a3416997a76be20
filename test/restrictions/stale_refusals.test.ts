// A request whose cached record the limiter reports stale is decided on the record read again from D1. When that
// key is now disabled, revoked or expired, the answer is the same failed authentication as at step 4 (README "The
// gateway"): 401 with WWW-Authenticate and the calling address's failed-authentication budget.
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { durableObjectLimiter } from "../../src/ratelimit/durable_object_limiter";
import { expectError } from "../management/support";
import { workerWith } from "../ratelimit/harness";

async function changeElsewhere(keyId: string, column: "disabled_at" | "revoked_at" | "expires_at") {
  const at = Date.now() + 1; // strictly after the cached record's updated_at
  await env.DB.prepare(`UPDATE api_keys SET ${column} = ?, updated_at = ? WHERE id = ?`).bind(column === "expires_at" ? at - 60_000 : at, at, keyId).run();
  await durableObjectLimiter({ namespace: env.RATE_LIMITER }).keyChanged(`key:${keyId}`, keyId, at);
}

describe("refusals found on the re-read record", () => {
  it.each([
    ["disabled_at", "key_disabled"],
    ["revoked_at", "key_revoked"],
    ["expires_at", "key_expired"],
  ] as const)("%s set elsewhere: 401 %s with WWW-Authenticate and the auth_failures budget, as at step 4", async (column, code) => {
    const w = workerWith();
    const org = await w.org();
    const key = await w.key(org);
    expect((await w.gateway(key.key)).status).toBe(200); // cached in memory and KV
    await changeElsewhere(key.id, column);
    const stale = await w.gateway(key.key);
    const direct = await w.gateway(key.key); // the re-read record is cached now: refused at step 4
    for (const res of [stale, direct]) {
      expect(res.headers.get("www-authenticate")).toBe('Bearer realm="keygate", error="invalid_token"');
      expect(res.headers.get("ratelimit-policy")).toMatch(/^"auth_failures";q=\d+;w=\d+$/);
      expect(res.headers.get("x-ratelimit-remaining")).not.toBeNull();
      expect(res.headers.get("x-demo-origin")).toBeNull();
      await expectError(res, 401, code);
    }
  });
});
