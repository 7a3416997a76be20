import { describe, expect, it } from "vitest";
import { adminFetch, createOrg } from "../harness";
import { expectError, fields } from "./support";

describe("audit: errors", () => {
  it("rejects unknown actions, naming the parameter", async () => {
    const { id } = await createOrg();
    const body = await expectError(await adminFetch(`/orgs/${id}/audit?action=key.deleted`), 400, "validation_error");
    expect(fields(body)).toEqual(["action"]);
    expect(body.error.details?.[0]?.message).toContain("key.created");
  });

  it("rejects times that are not ISO 8601", async () => {
    const { id } = await createOrg();
    expect(fields(await expectError(await adminFetch(`/orgs/${id}/audit?since=yesterday`), 400, "validation_error"))).toEqual(["since"]);
    expect(fields(await expectError(await adminFetch(`/orgs/${id}/audit?until=1700000000`), 400, "validation_error"))).toEqual(["until"]);
  });

  it("rejects bad pagination", async () => {
    const { id } = await createOrg();
    expect(fields(await expectError(await adminFetch(`/orgs/${id}/audit?per_page=0`), 400, "validation_error"))).toEqual(["per_page"]);
    expect(fields(await expectError(await adminFetch(`/orgs/${id}/audit?page=-1`), 400, "validation_error"))).toEqual(["page"]);
  });

  it("answers 404 for an unknown org", async () => {
    await expectError(await adminFetch(`/orgs/org_doesnotexist000000/audit`), 404, "not_found");
  });

  it("answers 405 for writes", async () => {
    const { id } = await createOrg();
    await expectError(await adminFetch(`/orgs/${id}/audit`, { method: "POST", json: {} }), 405, "method_not_allowed");
  });
});
