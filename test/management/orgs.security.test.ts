import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import worker from "../../src/index";
import { generateKey } from "../../src/keys/format";
import { adminFetch, createKey, createOrg, gatewayFetch, keyFetch, MANAGEMENT } from "../harness";
import { securityTests } from "./security";
import { expectError, orgPath } from "./support";

securityTests({ method: "POST", path: "/orgs", body: { name: "mine", tier: "enterprise" }, allows: "operator" });
securityTests({ method: "GET", path: "/orgs", allows: "operator" });
securityTests({ method: "GET", path: "/orgs/{org_id}", allows: "any-management-scope" });
securityTests({ method: "PATCH", path: "/orgs/{org_id}", body: { tier: "enterprise" }, allows: "operator" });

describe("orgs: security", () => {
  it("refuses even an admin org key on operator-only routes with 403 forbidden", async () => {
    const { id } = await createOrg();
    const { key } = await createKey(id, { scopes: ["admin"] });
    await expectError(await keyFetch(key, `${MANAGEMENT}/orgs`), 403, "forbidden");
    await expectError(await keyFetch(key, `${MANAGEMENT}/orgs`, { json: { name: "mine", tier: "enterprise" } }), 403, "forbidden");
    await expectError(await keyFetch(key, orgPath(id), { method: "PATCH", json: { tier: "enterprise" } }), 403, "forbidden");
    const org = await (await adminFetch(`/orgs/${id}`)).json<{ data: { tier: string } }>();
    expect(org.data.tier).toBe("free");
  });

  it("refuses a well-formed key nobody issued with 401 invalid_key", async () => {
    const { id } = await createOrg();
    await expectError(await keyFetch(generateKey("kg_"), orgPath(id)), 401, "invalid_key");
  });

  it("refuses a key with a bad checksum or length with 401 malformed_key", async () => {
    const { id } = await createOrg();
    const { key } = await createKey(id, { scopes: ["admin"] });
    const tampered = key.slice(0, 3) + (key[3] === "A" ? "B" : "A") + key.slice(4);
    await expectError(await keyFetch(tampered, orgPath(id)), 401, "malformed_key");
    await expectError(await keyFetch("kg_short", orgPath(id)), 401, "malformed_key");
  });

  it("refuses two different credentials in one request with 400", async () => {
    const { id } = await createOrg();
    const { key } = await createKey(id, { scopes: ["admin"] });
    const res = await gatewayFetch(orgPath(id), { headers: { authorization: `Bearer ${env.ADMIN_TOKEN}`, "x-api-key": key } });
    await expectError(res, 400, "conflicting_credentials");
  });

  it("closes the operator path when no ADMIN_TOKEN is configured (never open)", async () => {
    const unconfigured = { ...env, ADMIN_TOKEN: undefined };
    for (const token of [env.ADMIN_TOKEN, "undefined", "null"]) {
      const ctx = createExecutionContext();
      const res = await worker.fetch(new Request(`http://gw.test${MANAGEMENT}/orgs`, { headers: { authorization: `Bearer ${token}` } }), unconfigured, ctx);
      await waitOnExecutionContext(ctx);
      await expectError(res, 401, "unauthorized");
    }
  });
});
