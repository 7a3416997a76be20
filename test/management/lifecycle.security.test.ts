import { describe, expect, it } from "vitest";
import { adminFetch, createKey, createOrg, keyFetch } from "../harness";
import { securityTests } from "./security";
import { expectError, orgPath } from "./support";

securityTests({ method: "POST", path: "/orgs/{org_id}/keys/{key_id}/revoke", allows: "keys:write" });
securityTests({ method: "POST", path: "/orgs/{org_id}/keys/{key_id}/rotate", allows: "keys:write" });

describe("revoke and rotate: security", () => {
  it("a keys:write key cannot rotate a key with scopes it lacks (that would hand it those scopes)", async () => {
    const { id } = await createOrg();
    const writer = await createKey(id, { scopes: ["keys:write"] });
    const admin = await createKey(id, { scopes: ["admin"] });
    await expectError(await keyFetch(writer.key, orgPath(id, `/keys/${admin.id}/rotate`), { method: "POST" }), 403, "insufficient_scope");
    const stillActive = await (await adminFetch(`/orgs/${id}/keys/${admin.id}`)).json<{ data: { status: string } }>();
    expect(stillActive.data.status).toBe("active");
  });
});
