import { describe, it } from "vitest";
import { adminFetch, createKey, createOrg, gatewayFetch, MANAGEMENT } from "../harness";
import { expectError } from "../management/support";

describe("GET /orgs/{org_id}/keys/{key_id}/usage errors", () => {
  it("an unknown key is 404 not_found", async () => {
    const org = await createOrg();
    await expectError(await adminFetch(`/orgs/${org.id}/keys/key_doesnotexist000000/usage`), 404, "not_found");
  });

  it("an unknown org is 404 not_found", async () => {
    await expectError(await adminFetch(`/orgs/org_doesnotexist000000/keys/key_doesnotexist000000/usage`), 404, "not_found");
  });

  it.each([["per_page=0"], ["per_page=101"], ["page=0"], ["since=yesterday"], ["until=2026-13-45"]])("a bad query (%s) is 400 validation_error", async (query) => {
    const org = await createOrg();
    const { id } = await createKey(org.id);
    await expectError(await adminFetch(`/orgs/${org.id}/keys/${id}/usage?${query}`), 400, "validation_error");
  });

  it("no credentials is 401 missing_credentials", async () => {
    const org = await createOrg();
    const { id } = await createKey(org.id);
    await expectError(await gatewayFetch(`${MANAGEMENT}/orgs/${org.id}/keys/${id}/usage`), 401, "missing_credentials");
  });

  it("another method is 405 method_not_allowed", async () => {
    const org = await createOrg();
    const { id } = await createKey(org.id);
    await expectError(await adminFetch(`/orgs/${org.id}/keys/${id}/usage`, { method: "DELETE" }), 405, "method_not_allowed");
  });
});
