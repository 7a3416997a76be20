// The operator's expiry policy on create and rotate (issue 16): REQUIRE_KEY_EXPIRY, MAX_KEY_LIFETIME.
import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { handleRequest } from "../../src/app";
import type { Env } from "../../src/env";
import { createKey, createOrg, type KeyJson, MANAGEMENT } from "../harness";
import { expectError, expectJson } from "./support";

const DAY = 86_400_000;

/** As the operator, through a worker whose env carries the policy vars (parsed as their own config). */
function withPolicy(vars: Partial<Env>) {
  const policyEnv = { ...env, ...vars } as Env;
  return async (path: string, json?: unknown, method = "POST"): Promise<Response> => {
    const ctx = createExecutionContext();
    const headers: Record<string, string> = { authorization: `Bearer ${env.ADMIN_TOKEN}` };
    if (json !== undefined) headers["content-type"] = "application/json";
    const res = await handleRequest(new Request(`http://gw.test${MANAGEMENT}${path}`, { method, headers, body: json === undefined ? undefined : JSON.stringify(json) }), policyEnv, ctx);
    await waitOnExecutionContext(ctx);
    return res;
  };
}

const detail = async (res: Response) => (await expectError(res, 400, "validation_error")).error.details![0]!;

describe("REQUIRE_KEY_EXPIRY", () => {
  const call = withPolicy({ REQUIRE_KEY_EXPIRY: "true" });

  it("refuses a key without an expiry, or with expires_in never, naming the rule; accepts one with an expiry", async () => {
    const { id } = await createOrg();
    for (const extra of [{}, { expires_in: "never" }]) {
      const d = await detail(await call(`/orgs/${id}/keys`, { name: "k", scopes: ["demo:read"], ...extra }));
      expect(d.field).toBe("expires_in");
      expect(d.message).toMatch(/^REQUIRE_KEY_EXPIRY: /);
    }
    expect((await call(`/orgs/${id}/keys`, { name: "k", scopes: ["demo:read"], expires_in: "30d" })).status).toBe(201);
  });

  it("leaves existing keys alone, but rotating one without an expiry needs a new expiry", async () => {
    const { id } = await createOrg();
    const old = await createKey(id); // made before the policy: never expires
    expect((await call(`/orgs/${id}/keys/${old.id}`, undefined, "GET")).status).toBe(200);
    const d = await detail(await call(`/orgs/${id}/keys/${old.id}/rotate`, {}));
    expect(d).toEqual({ field: "expires_in", message: expect.stringMatching(/^REQUIRE_KEY_EXPIRY: /) });
    const { data } = await expectJson<{ data: KeyJson }>(await call(`/orgs/${id}/keys/${old.id}/rotate`, { expires_in: "90d" }), 201);
    expect(Date.parse(data.expires_at!) - Date.parse(data.created_at)).toBe(90 * DAY);
  });
});

describe("MAX_KEY_LIFETIME", () => {
  const call = withPolicy({ MAX_KEY_LIFETIME: "90d" });

  it("refuses lifetimes past the cap and keys that never expire; the cap itself is fine", async () => {
    const { id } = await createOrg();
    const tooLong = await detail(await call(`/orgs/${id}/keys`, { name: "k", scopes: ["demo:read"], expires_in: "1y" }));
    expect(tooLong).toEqual({ field: "expires_in", message: expect.stringMatching(/^MAX_KEY_LIFETIME: a key may live at most 90d/) });
    const exact = await detail(await call(`/orgs/${id}/keys`, { name: "k", scopes: ["demo:read"], expires_at: new Date(Date.now() + 120 * DAY).toISOString() }));
    expect(exact.field).toBe("expires_at");
    expect((await detail(await call(`/orgs/${id}/keys`, { name: "k", scopes: ["demo:read"] }))).message).toMatch(/^MAX_KEY_LIFETIME: /);
    expect((await call(`/orgs/${id}/keys`, { name: "k", scopes: ["demo:read"], expires_in: "90d" })).status).toBe(201);
  });

  it("a rotation that would carry an over-long lifetime forward is refused until a shorter one is given", async () => {
    const { id } = await createOrg();
    const old = await createKey(id, { expires_in: "1y" });
    expect((await detail(await call(`/orgs/${id}/keys/${old.id}/rotate`, {}))).message).toMatch(/^MAX_KEY_LIFETIME: /);
    expect((await call(`/orgs/${id}/keys/${old.id}/rotate`, { expires_in: "30d" })).status).toBe(201);
  });
});

describe("rotate body", () => {
  it("refuses expires_in together with expires_at, and a past expires_at", async () => {
    const { id } = await createOrg();
    const old = await createKey(id);
    const call = withPolicy({});
    expect((await detail(await call(`/orgs/${id}/keys/${old.id}/rotate`, { expires_in: "30d", expires_at: new Date(Date.now() + DAY).toISOString() }))).field).toBe("expires_at");
    expect((await detail(await call(`/orgs/${id}/keys/${old.id}/rotate`, { expires_at: "2020-01-01T00:00:00Z" }))).field).toBe("expires_at");
  });
});
