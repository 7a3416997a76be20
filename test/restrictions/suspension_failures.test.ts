// README "Suspending a key": each refusal of a suspended key is a failed authentication of the calling address.
import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { handleRequest } from "../../src/app";
import type { Env } from "../../src/env";
import { adminFetch, createKey, createOrg } from "../harness";
import { expectError } from "../management/support";

const limited = { ...env, AUTH_FAILURE_LIMIT: "3/60s" } as Env;
async function call(key: string, ip: string): Promise<Response> {
  const ctx = createExecutionContext();
  const res = await handleRequest(new Request("http://gw.test/demo/x", { headers: { "x-api-key": key, "cf-connecting-ip": ip } }), limited, ctx);
  await waitOnExecutionContext(ctx);
  return res;
}

describe("a suspended key and the address's failure budget", () => {
  it("a client that keeps sending a suspended key uses up its address's AUTH_FAILURE_LIMIT, then its other keys are refused 429 too", async () => {
    const { id } = await createOrg();
    const suspended = await createKey(id);
    const other = await createKey(id);
    expect((await adminFetch(`/orgs/${id}/keys/${suspended.id}`, { method: "PATCH", json: { enabled: false } })).status).toBe(200);
    const ip = "192.0.2.201";
    for (let i = 0; i < 3; i++) await expectError(await call(suspended.key, ip), 401, "key_disabled");
    await expectError(await call(other.key, ip), 429, "too_many_auth_failures");
    expect((await call(other.key, "192.0.2.202")).status).toBe(200);
  });
});
