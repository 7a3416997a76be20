import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it, vi } from "vitest";
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

  it("answers 500 gateway_misconfigured with the code only when the config is invalid; the bad field goes to the log", async () => {
    const logged = vi.spyOn(console, "error").mockImplementation(() => undefined);
    try {
      for (const headers of [{ authorization: `Bearer ${env.ADMIN_TOKEN}` }, {} as Record<string, string>]) {
        const res = await fetchWith({ KEY_PREFIX: "Bad-Prefix" }, `${MANAGEMENT}/orgs`, { headers });
        const body = await expectError(res, 500, "gateway_misconfigured");
        expect(JSON.stringify(body)).not.toContain("KEY_PREFIX");
        expect(body.error.details).toBeUndefined();
      }
      expect(logged.mock.calls.flat().join("\n")).toContain("KEY_PREFIX");
    } finally {
      logged.mockRestore();
    }
  });

  it("keeps health and the docs up while the config is invalid, and health says config: invalid (nothing more)", async () => {
    const logged = vi.spyOn(console, "error").mockImplementation(() => undefined);
    try {
      const health = await fetchWith({ TIERS: "{" }, `${MANAGEMENT}/health`);
      expect(health.status).toBe(200);
      expect(await health.json()).toEqual({ data: { status: "degraded", config: "invalid" } });
      expect((await fetchWith({ TIERS: "{" }, `${MANAGEMENT}/openapi.json`)).status).toBe(200);
      expect(logged.mock.calls.flat().join("\n")).toContain("TIERS: is not valid JSON (line 1, column 2)");
    } finally {
      logged.mockRestore();
    }
  });

  it("checks credentials before anything else, so unauthenticated callers learn nothing about validation", async () => {
    await expectError(await gatewayFetch(`${MANAGEMENT}/orgs`, { method: "POST", headers: { "content-type": "text/plain" }, body: "x" }), 401, "missing_credentials");
  });
});
