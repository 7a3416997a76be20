import { describe, expect, it } from "vitest";
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

  it.each([
    ["since=yesterday", "since"],
    ["until=2026-13-45", "until"],
    ["granularity=week", "granularity"],
    ["granularity=minute&since=2026-01-01T00:00:00Z&until=2026-01-03T00:00:01Z", "since"], // minute: at most 48h
    ["granularity=hour&since=2026-01-01&until=2026-02-01T00:00:01Z", "since"], // hour: at most 31d
    ["granularity=day&since=2025-01-01&until=2026-02-06", "since"], // day: at most 400d
    ["since=2026-02-01&until=2026-01-01", "since"], // backwards
  ])("a bad query (%s) is 400 validation_error naming %s", async (query, field) => {
    const org = await createOrg();
    const { id } = await createKey(org.id);
    const body = await expectError(await adminFetch(`/orgs/${org.id}/keys/${id}/usage?${query}`), 400, "validation_error");
    expect(body.error.details?.[0]?.field).toBe(field);
    await expectError(await adminFetch(`/orgs/${org.id}/usage?${query}`), 400, "validation_error");
  });

  it("the longest range of each granularity is accepted", async () => {
    const org = await createOrg();
    const { id } = await createKey(org.id);
    for (const query of ["granularity=minute&since=2026-01-01T00:00:00Z&until=2026-01-03T00:00:00Z", "granularity=day&since=2025-01-01&until=2026-02-04T23:59:59Z"]) {
      expect((await adminFetch(`/orgs/${org.id}/keys/${id}/usage?${query}`)).status).toBe(200);
    }
  });

  it.each([["per_page=0"], ["per_page=101"], ["page=0"]])("a bad page (%s) of the org's per-key totals is 400 validation_error", async (query) => {
    const org = await createOrg();
    await expectError(await adminFetch(`/orgs/${org.id}/usage?${query}`), 400, "validation_error");
  });

  it("an unknown org's usage is 404 not_found; another method is 405", async () => {
    await expectError(await adminFetch(`/orgs/org_doesnotexist000000/usage`), 404, "not_found");
    const org = await createOrg();
    await expectError(await adminFetch(`/orgs/${org.id}/usage`, { method: "POST" }), 405, "method_not_allowed");
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
