import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import worker from "../../src/index";
import { generateKey } from "../../src/keys/format";
import { adminFetch, createKey, createOrg, gatewayFetch, keyFetch, MANAGEMENT } from "../harness";
import { expectError, expiredKey, orgPath, revokedKey } from "./support";

describe("orgs: security", () => {
  it("refuses a request without credentials with 401 and a Bearer challenge", async () => {
    for (const [method, path] of [["GET", "/orgs"], ["POST", "/orgs"], ["GET", "/orgs/org_x"], ["PATCH", "/orgs/org_x"]] as const) {
      const res = await gatewayFetch(MANAGEMENT + path, { method });
      await expectError(res, 401, "missing_credentials");
      expect(res.headers.get("www-authenticate")).toBe('Bearer realm="keygate"');
    }
  });

  it("refuses a wrong operator token with 401 unauthorized", async () => {
    const res = await gatewayFetch(`${MANAGEMENT}/orgs`, { headers: { authorization: `Bearer ${env.ADMIN_TOKEN}x` } });
    await expectError(res, 401, "unauthorized");
    expect(res.headers.get("www-authenticate")).toContain('error="invalid_token"');
  });

  it("refuses even an admin org key on operator-only routes with 403 forbidden", async () => {
    const { id } = await createOrg();
    const { key } = await createKey(id, { scopes: ["admin"] });
    await expectError(await keyFetch(key, `${MANAGEMENT}/orgs`), 403, "forbidden");
    await expectError(await keyFetch(key, `${MANAGEMENT}/orgs`, { json: { name: "mine", tier: "enterprise" } }), 403, "forbidden");
    await expectError(await keyFetch(key, orgPath(id), { method: "PATCH", json: { tier: "enterprise" } }), 403, "forbidden");
    const org = await (await adminFetch(`/orgs/${id}`)).json<{ data: { tier: string } }>();
    expect(org.data.tier).toBe("free");
  });

  it("answers 404 when an org key reads another org, exactly as for an org that does not exist", async () => {
    const mine = await createOrg();
    const theirs = await createOrg();
    const { key } = await createKey(mine.id, { scopes: ["admin"] });
    const other = await expectError(await keyFetch(key, orgPath(theirs.id)), 404, "not_found");
    const missing = await expectError(await keyFetch(key, orgPath("org_doesnotexist000000")), 404, "not_found");
    expect(other.error.message.replace(theirs.id, "ID")).toBe(missing.error.message.replace("org_doesnotexist000000", "ID"));
  });

  it("answers 403 insufficient_scope when an org key has no management scope", async () => {
    const { id } = await createOrg();
    const { key } = await createKey(id, { scopes: ["demo:read", "demo:write"] });
    const body = await expectError(await keyFetch(key, orgPath(id)), 403, "insufficient_scope");
    expect(body.error.details?.[0]?.message).toContain("keys:read");
  });

  it("refuses a revoked caller key with 401 key_revoked", async () => {
    const { id } = await createOrg();
    const { key } = await revokedKey(id, { scopes: ["admin"] });
    const res = await keyFetch(key, orgPath(id));
    await expectError(res, 401, "key_revoked");
    expect(res.headers.get("www-authenticate")).toContain("Bearer");
  });

  it("refuses an expired caller key with 401 key_expired", async () => {
    const { id } = await createOrg();
    const { key } = await expiredKey(id, { scopes: ["admin"] });
    await expectError(await keyFetch(key, orgPath(id)), 401, "key_expired");
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
