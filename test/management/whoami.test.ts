import { describe, expect, it } from "vitest";
import { adminFetch, createKey, createOrg, keyFetch, MANAGEMENT } from "../harness";
import { securityTests } from "./security";
import { expectJson } from "./support";

securityTests({ method: "GET", path: "/whoami", allows: "any-credential" });

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

});
