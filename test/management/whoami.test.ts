import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { adminFetch, createKey, createOrg, gatewayFetch, keyFetch, MANAGEMENT } from "../harness";
import { expectError, expectJson, revokedKey } from "./support";

describe("GET /whoami", () => {
  it("names the operator", async () => {
    const body = await expectJson<{ data: unknown }>(await adminFetch("/whoami"), 200);
    expect(body.data).toEqual({ kind: "operator", org_id: null, key_id: null, scopes: null });
  });

  it("names an org key's org, id and scopes, never the key", async () => {
    const { id } = await createOrg();
    const created = await createKey(id, { scopes: ["keys:read", "demo:read"] });
    const res = await keyFetch(created.key, `${MANAGEMENT}/whoami`);
    expect(res.headers.get("cache-control")).toBe("no-store");
    const text = await res.text();
    expect(text).not.toContain(created.key);
    expect(JSON.parse(text).data).toEqual({ kind: "key", org_id: id, key_id: created.id, scopes: ["keys:read", "demo:read"] });
  });

  it("refuses missing, wrong and revoked credentials like every management route", async () => {
    await expectError(await gatewayFetch(`${MANAGEMENT}/whoami`), 401, "missing_credentials");
    await expectError(await gatewayFetch(`${MANAGEMENT}/whoami`, { headers: { authorization: `Bearer ${env.ADMIN_TOKEN}x` } }), 401, "unauthorized");
    const { id } = await createOrg();
    const revoked = await revokedKey(id);
    await expectError(await keyFetch(revoked.key, `${MANAGEMENT}/whoami`), 401, "key_revoked");
  });
});
