import { describe, expect, it } from "vitest";
import { adminFetch, createOrg, gatewayFetch, MANAGEMENT } from "../harness";
import { expectError, fields } from "./support";

describe("orgs: errors", () => {
  it("rejects a missing or empty name, naming the field", async () => {
    expect(fields(await expectError(await adminFetch("/orgs", { json: { tier: "free" } }), 400, "validation_error"))).toEqual(["name"]);
    const empty = await expectError(await adminFetch("/orgs", { json: { name: "   ", tier: "free" } }), 400, "validation_error");
    expect(fields(empty)).toEqual(["name"]);
  });

  it("rejects a name over 100 characters", async () => {
    expect(fields(await expectError(await adminFetch("/orgs", { json: { name: "x".repeat(101), tier: "free" } }), 400, "validation_error"))).toEqual(["name"]);
    await createOrg({ name: "x".repeat(100) });
  });

  it("rejects a tier that is not configured, listing the valid ones", async () => {
    const body = await expectError(await adminFetch("/orgs", { json: { name: "n", tier: "platinum" } }), 400, "validation_error");
    expect(body.error.details).toEqual([{ field: "tier", message: "must be one of: free, pro, enterprise" }]);
  });

  it("rejects unknown fields instead of ignoring them", async () => {
    const body = await expectError(await adminFetch("/orgs", { json: { name: "n", tier: "free", plan: "gold" } }), 400, "validation_error");
    expect(body.error.details).toEqual([{ field: "plan", message: "is not a known field" }]);
  });

  it("rejects a key limit that is not a positive integer", async () => {
    for (const bad of [0, -1, 2.5, "10"]) {
      expect(fields(await expectError(await adminFetch("/orgs", { json: { name: "n", tier: "free", max_active_keys: bad } }), 400, "validation_error"))).toEqual(["max_active_keys"]);
    }
  });

  it("rejects a PATCH that changes nothing", async () => {
    const { id } = await createOrg();
    await expectError(await adminFetch(`/orgs/${id}`, { method: "PATCH", json: {} }), 400, "validation_error");
  });

  it("rejects a PATCH to an unknown tier", async () => {
    const { id } = await createOrg();
    expect(fields(await expectError(await adminFetch(`/orgs/${id}`, { method: "PATCH", json: { tier: "gold" } }), 400, "validation_error"))).toEqual(["tier"]);
  });

  it("answers 404 for an org that does not exist", async () => {
    await expectError(await adminFetch("/orgs/org_doesnotexist000000"), 404, "not_found");
    await expectError(await adminFetch("/orgs/org_doesnotexist000000", { method: "PATCH", json: { name: "x" } }), 404, "not_found");
  });

  it("rejects bad list parameters, naming each", async () => {
    expect(fields(await expectError(await adminFetch("/orgs?per_page=101"), 400, "validation_error"))).toEqual(["per_page"]);
    expect(fields(await expectError(await adminFetch("/orgs?page=0"), 400, "validation_error"))).toEqual(["page"]);
    expect(fields(await expectError(await adminFetch("/orgs?page=abc"), 400, "validation_error"))).toEqual(["page"]);
    expect(fields(await expectError(await adminFetch("/orgs?sort=id"), 400, "validation_error"))).toEqual(["sort"]);
  });

  it("answers 400 invalid_json for a malformed body", async () => {
    const res = await adminFetch("/orgs", { method: "POST", headers: { "content-type": "application/json" }, body: '{"name": "x",' });
    await expectError(res, 400, "invalid_json");
  });

  it("answers 415 for a body that is not JSON", async () => {
    const res = await adminFetch("/orgs", { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" }, body: "name=x&tier=free" });
    await expectError(res, 415, "unsupported_media_type");
  });

  it("answers 413 for a body over 64 KiB", async () => {
    const body = JSON.stringify({ name: "n", tier: "free", pad: "x".repeat(64 * 1024) });
    await expectError(await adminFetch("/orgs", { method: "POST", headers: { "content-type": "application/json" }, body }), 413, "payload_too_large");
  });

  it("answers 405 with Allow for a method the path does not take", async () => {
    const res = await adminFetch("/orgs", { method: "DELETE" });
    await expectError(res, 405, "method_not_allowed");
    expect(res.headers.get("allow")?.split(", ").sort()).toEqual(["GET", "POST"]);
  });

  it("health is a plain GET route", async () => {
    await expectError(await gatewayFetch(`${MANAGEMENT}/health`, { method: "POST" }), 405, "method_not_allowed");
  });
});
