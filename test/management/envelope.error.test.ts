import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import worker from "../../src/index";
import type { Env } from "../../src/env";
import { adminFetch, gatewayFetch, MANAGEMENT } from "../harness";
import { expectError } from "./support";

async function fetchWith(vars: Partial<Env>, path: string, init: RequestInit = {}): Promise<Response> {
  const ctx = createExecutionContext();
  const res = await worker.fetch(new Request(`http://gw.test${path}`, init), { ...env, ...vars } as Env, ctx);
  await waitOnExecutionContext(ctx);
  return res;
}

describe("one error envelope everywhere under /_keygate", () => {
  it("answers unknown routes with 404 not_found", async () => {
    await expectError(await gatewayFetch(`${MANAGEMENT}/nope`), 404, "not_found");
    await expectError(await gatewayFetch(`/_keygate`), 404, "not_found");
    await expectError(await gatewayFetch(`/_keygate/v2/orgs`), 404, "not_found");
    // Route paths are matched literally: the dot in openapi.json is not a wildcard.
    await expectError(await gatewayFetch(`${MANAGEMENT}/openapiXjson`, { method: "POST" }), 404, "not_found");
    await expectError(await gatewayFetch(`${MANAGEMENT}/openapi.json`, { method: "POST" }), 405, "method_not_allowed");
    await expectError(await adminFetch(`/orgs/org_x/keys/key_y/unknown-action`, { method: "POST" }), 404, "not_found");
  });

  it("answers 500 gateway_misconfigured naming the bad field when the config is invalid", async () => {
    const res = await fetchWith({ KEY_PREFIX: "Bad-Prefix" }, `${MANAGEMENT}/orgs`, { headers: { authorization: `Bearer ${env.ADMIN_TOKEN}` } });
    const body = await expectError(res, 500, "gateway_misconfigured");
    expect(body.error.message).toContain("KEY_PREFIX");
    expect(body.error.details?.map((d) => d.field)).toEqual(["KEY_PREFIX"]);
  });

  it("keeps health and the docs up while the config is invalid (they do not need it)", async () => {
    expect((await fetchWith({ TIERS: "{" }, `${MANAGEMENT}/health`)).status).toBe(200);
    expect((await fetchWith({ TIERS: "{" }, `${MANAGEMENT}/openapi.json`)).status).toBe(200);
  });

  it("checks credentials before anything else, so unauthenticated callers learn nothing about validation", async () => {
    await expectError(await gatewayFetch(`${MANAGEMENT}/orgs`, { method: "POST", headers: { "content-type": "text/plain" }, body: "x" }), 401, "missing_credentials");
  });
});
