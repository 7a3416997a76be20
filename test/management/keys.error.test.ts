import { describe, expect, it } from "vitest";
import { adminFetch, createKey, createOrg, gatewayFetch, MANAGEMENT } from "../harness";
import { expectError, fields } from "./support";
import { env } from "cloudflare:workers";

const create = (orgId: string, json: unknown) => adminFetch(`/orgs/${orgId}/keys`, { json });

describe("keys: validation errors", () => {
  it("rejects scopes outside the catalogue, naming each bad entry and listing the valid ones", async () => {
    const { id } = await createOrg();
    const body = await expectError(await create(id, { name: "k", scopes: ["demo:read", "demo:delete", "root"] }), 400, "validation_error");
    expect(body.error.details).toEqual([
      { field: "scopes[1]", message: '"demo:delete" is not in the scope catalogue' },
      { field: "scopes[2]", message: '"root" is not in the scope catalogue' },
      ...["admin", "keys:read", "keys:write", "audit:read", "demo:read", "demo:write"].map((scope) => ({ field: "valid_scopes", message: scope })),
    ]);
  });

  it("rejects missing or empty scopes", async () => {
    const { id } = await createOrg();
    expect(fields(await expectError(await create(id, { name: "k" }), 400, "validation_error"))).toEqual(["scopes"]);
    expect(fields(await expectError(await create(id, { name: "k", scopes: [] }), 400, "validation_error"))).toEqual(["scopes"]);
    expect(fields(await expectError(await create(id, { name: "k", scopes: [""] }), 400, "validation_error"))).toEqual(["scopes[0]"]);
  });

  it("rejects a name that is missing, empty or over 100 characters", async () => {
    const { id } = await createOrg();
    for (const name of [undefined, "", " ", "x".repeat(101), 42]) {
      expect(fields(await expectError(await create(id, { name, scopes: ["demo:read"] }), 400, "validation_error"))).toEqual(["name"]);
    }
  });

  it("rejects an unknown expires_in and an expires_at in the past or not ISO", async () => {
    const { id } = await createOrg();
    expect(fields(await expectError(await create(id, { name: "k", scopes: ["demo:read"], expires_in: "2d" }), 400, "validation_error"))).toEqual(["expires_in"]);
    expect(fields(await expectError(await create(id, { name: "k", scopes: ["demo:read"], expires_at: "2020-01-01T00:00:00Z" }), 400, "validation_error"))).toEqual(["expires_at"]);
    expect(fields(await expectError(await create(id, { name: "k", scopes: ["demo:read"], expires_at: "tomorrow" }), 400, "validation_error"))).toEqual(["expires_at"]);
  });

  it("rejects expires_in and expires_at together", async () => {
    const { id } = await createOrg();
    const body = await expectError(await create(id, { name: "k", scopes: ["demo:read"], expires_in: "30d", expires_at: "2099-01-01T00:00:00Z" }), 400, "validation_error");
    expect(body.error.details).toEqual([{ field: "expires_at", message: "give either expires_in or expires_at, not both" }]);
  });

  it("rejects a bad rate limit, naming the nested field", async () => {
    const { id } = await createOrg();
    const bad = async (rate_limit: unknown) => fields(await expectError(await create(id, { name: "k", scopes: ["demo:read"], rate_limit }), 400, "validation_error"));
    expect(await bad({ limit: 0, window: "60s" })).toEqual(["rate_limit.limit"]);
    expect(await bad({ limit: 5, window: "soon" })).toEqual(["rate_limit.window"]);
    expect(await bad({ limit: 5, window: "32d" })).toEqual(["rate_limit.window"]);
    expect(await bad({ limit: 5, window: "500ms" })).toEqual(["rate_limit.window"]);
    expect(await bad({ limit: 1.5, window: "60s" })).toEqual(["rate_limit.limit"]);
    expect(await bad({ limit: 5, window: "60s", mode: "eventual" })).toEqual(["rate_limit.mode"]);
    expect(await bad({ limit: 5 })).toEqual(["rate_limit.window"]);
  });

  it("rejects meta that is not an object or is over 4 KiB", async () => {
    const { id } = await createOrg();
    expect(fields(await expectError(await create(id, { name: "k", scopes: ["demo:read"], meta: ["a"] }), 400, "validation_error"))).toEqual(["meta"]);
    expect(fields(await expectError(await create(id, { name: "k", scopes: ["demo:read"], meta: { blob: "x".repeat(5000) } }), 400, "validation_error"))).toEqual(["meta"]);
  });

  it("rejects unknown fields (a typo must not be silently ignored)", async () => {
    const { id } = await createOrg();
    const body = await expectError(await create(id, { name: "k", scopes: ["demo:read"], expires: "30d" }), 400, "validation_error");
    expect(body.error.details).toEqual([{ field: "expires", message: "is not a known field" }]);
  });

  it("rejects a body that is not an object", async () => {
    const { id } = await createOrg();
    expect(fields(await expectError(await create(id, ["name"]), 400, "validation_error"))).toEqual(["body"]);
  });

  it("rejects a PATCH without fields and a PATCH with bad values", async () => {
    const { id } = await createOrg();
    const { id: keyId } = await createKey(id);
    await expectError(await adminFetch(`/orgs/${id}/keys/${keyId}`, { method: "PATCH", json: {} }), 400, "validation_error");
    expect(fields(await expectError(await adminFetch(`/orgs/${id}/keys/${keyId}`, { method: "PATCH", json: { scopes: ["nope"] } }), 400, "validation_error")).filter((f) => f !== "valid_scopes")).toEqual(["scopes[0]"]);
    expect(fields(await expectError(await adminFetch(`/orgs/${id}/keys/${keyId}`, { method: "PATCH", json: { expires_at: "2099-01-01T00:00:00Z" } }), 400, "validation_error"))).toEqual(["expires_at"]);
  });

  it("rejects bad list parameters", async () => {
    const { id } = await createOrg();
    const bad = async (query: string) => fields(await expectError(await adminFetch(`/orgs/${id}/keys?${query}`), 400, "validation_error"));
    expect(await bad("status=deleted")).toEqual(["status"]);
    expect(await bad("status=active,")).toEqual(["status"]);
    expect(await bad("unused_since=last-week")).toEqual(["unused_since"]);
    expect(await bad("unused_since=2026-02-30")).toEqual(["unused_since"]);
    expect(await bad("sort=hash")).toEqual(["sort"]);
    expect(await bad("per_page=500")).toEqual(["per_page"]);
  });
});

describe("keys: state errors", () => {
  it("answers 404 for unknown keys and unknown orgs", async () => {
    const { id } = await createOrg();
    await expectError(await adminFetch(`/orgs/${id}/keys/key_doesnotexist000000`), 404, "not_found");
    await expectError(await adminFetch(`/orgs/${id}/keys/key_doesnotexist000000`, { method: "PATCH", json: { name: "x" } }), 404, "not_found");
    await expectError(await adminFetch(`/orgs/org_doesnotexist000000/keys`), 404, "not_found");
    await expectError(await create("org_doesnotexist000000", { name: "k", scopes: ["demo:read"] }), 404, "not_found");
  });

  it("answers 404 for a key id that belongs to another org, even to the operator", async () => {
    const a = await createOrg();
    const b = await createOrg();
    const { id: keyId } = await createKey(a.id);
    await expectError(await adminFetch(`/orgs/${b.id}/keys/${keyId}`), 404, "not_found");
  });

  it("answers 409 conflict for a PATCH of a revoked key", async () => {
    const { id } = await createOrg();
    const { id: keyId } = await createKey(id);
    await adminFetch(`/orgs/${id}/keys/${keyId}/revoke`, { method: "POST" });
    await expectError(await adminFetch(`/orgs/${id}/keys/${keyId}`, { method: "PATCH", json: { name: "zombie" } }), 409, "conflict");
  });
});

describe("keys: body handling", () => {
  const big = (size: number) => {
    const prefix = '{"name":"k","scopes":["demo:read"],"meta":{"pad":"';
    const suffix = '"}}';
    return prefix + "x".repeat(size - prefix.length - suffix.length) + suffix;
  };

  it("answers 413 payload_too_large for 64 KiB + 1 bytes", async () => {
    const { id } = await createOrg();
    const body = big(64 * 1024 + 1);
    expect(body.length).toBe(64 * 1024 + 1);
    await expectError(await adminFetch(`/orgs/${id}/keys`, { method: "POST", headers: { "content-type": "application/json" }, body }), 413, "payload_too_large");
  });

  it("counts the bytes actually streamed when there is no Content-Length", async () => {
    const { id } = await createOrg();
    const bytes = new TextEncoder().encode(big(64 * 1024 + 1));
    const stream = new ReadableStream<Uint8Array>({
      start(controller) {
        for (let i = 0; i < bytes.length; i += 4096) controller.enqueue(bytes.slice(i, i + 4096));
        controller.close();
      },
    });
    const request = new Request(`http://gw.test${MANAGEMENT}/orgs/${id}/keys`, {
      method: "POST",
      headers: { authorization: `Bearer ${env.ADMIN_TOKEN}`, "content-type": "application/json" },
      body: stream,
    });
    expect(request.headers.has("content-length")).toBe(false);
    const { exports } = await import("cloudflare:workers");
    await expectError(await exports.default.fetch(request), 413, "payload_too_large");
  });

  it("counts the bytes actually streamed when the Content-Length is wrong (smaller than the body)", async () => {
    const { id } = await createOrg();
    const request = new Request(`http://gw.test${MANAGEMENT}/orgs/${id}/keys`, {
      method: "POST",
      headers: { authorization: `Bearer ${env.ADMIN_TOKEN}`, "content-type": "application/json", "content-length": "100" },
      body: big(64 * 1024 + 1),
    });
    expect(request.headers.get("content-length")).toBe("100");
    const { exports } = await import("cloudflare:workers");
    await expectError(await exports.default.fetch(request), 413, "payload_too_large");
  });

  it("accepts a body of exactly 64 KiB (then judges its content)", async () => {
    const { id } = await createOrg();
    const res = await adminFetch(`/orgs/${id}/keys`, { method: "POST", headers: { "content-type": "application/json" }, body: big(64 * 1024) });
    // Parsed and validated, not refused for size: the meta is over its own 4 KiB limit.
    expect(fields(await expectError(res, 400, "validation_error"))).toEqual(["meta"]);
  });

  it("answers 400 invalid_json for malformed JSON", async () => {
    const { id } = await createOrg();
    for (const body of ["{", '{"name": "k",}', "nul", "\u00ff\u00fe"]) {
      await expectError(await adminFetch(`/orgs/${id}/keys`, { method: "POST", headers: { "content-type": "application/json" }, body }), 400, "invalid_json");
    }
  });

  it("answers 415 for non-JSON content types, and for a body without a content type", async () => {
    const { id } = await createOrg();
    const body = JSON.stringify({ name: "k", scopes: ["demo:read"] });
    await expectError(await adminFetch(`/orgs/${id}/keys`, { method: "POST", headers: { "content-type": "text/plain" }, body }), 415, "unsupported_media_type");
    await expectError(await gatewayFetch(`${MANAGEMENT}/orgs/${id}/keys`, { method: "POST", headers: { authorization: `Bearer ${env.ADMIN_TOKEN}` }, body: new TextEncoder().encode(body) }), 415, "unsupported_media_type");
  });

  it("accepts application/json with a charset and vendor +json types", async () => {
    const { id } = await createOrg();
    const body = JSON.stringify({ name: "k", scopes: ["demo:read"] });
    for (const type of ["application/json; charset=utf-8", "application/vnd.keygate+json"]) {
      expect((await adminFetch(`/orgs/${id}/keys`, { method: "POST", headers: { "content-type": type }, body })).status).toBe(201);
    }
  });
});
