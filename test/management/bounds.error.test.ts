// Issues 17.5, 17.9, 18.3, 18.8: bounds on what a key can hold and who may change it.
import { describe, expect, it } from "vitest";
import { MAX_KEY_LIFETIME_MS, MAX_META_BYTES, MAX_META_DEPTH, MAX_SCOPES_PER_KEY } from "../../src/management/keys";
import { adminFetch, createKey, createOrg, keyFetch, type KeyJson } from "../harness";
import { expectError, expectJson, fields, orgPath, setKeyColumns } from "./support";

const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;

describe("key expiry is capped (17.5)", () => {
  it("refuses expires_at more than 100 years ahead, including via a far offset that rolls past year 9999", async () => {
    const { id } = await createOrg();
    for (const expires_at of [new Date(Date.now() + MAX_KEY_LIFETIME_MS + 86_400_000).toISOString(), "9999-12-31T23:59:59-12:00"]) {
      const body = await expectError(await adminFetch(`/orgs/${id}/keys`, { json: { name: "k", scopes: ["demo:read"], expires_at } }), 400, "validation_error");
      expect(fields(body)).toEqual(["expires_at"]);
      expect(body.error.details![0]!.message).toContain("100 years");
    }
    // Just inside the cap is fine.
    await expectJson(await adminFetch(`/orgs/${id}/keys`, { json: { name: "k", scopes: ["demo:read"], expires_at: new Date(Date.now() + MAX_KEY_LIFETIME_MS - 86_400_000).toISOString() } }), 201);
  });

  it("rotating a key that expires at 9999-12-31 gives the new key a valid RFC 3339 expiry within the cap", async () => {
    const { id } = await createOrg();
    const { id: keyId } = await createKey(id, { expires_in: "1y" });
    // A key stored before the cap existed: its lifetime (now -> 9999) would carry the new key past year 9999.
    await setKeyColumns(keyId, { expires_at: Date.parse("9999-12-31T00:00:00Z") });
    const before = Date.now();
    const { data } = await expectJson<{ data: KeyJson }>(await adminFetch(`/orgs/${id}/keys/${keyId}/rotate`, { json: {} }), 201);
    expect(data.expires_at).toMatch(RFC3339);
    const expiresAt = Date.parse(data.expires_at!);
    expect(expiresAt).toBeGreaterThanOrEqual(before + MAX_KEY_LIFETIME_MS);
    expect(expiresAt).toBeLessThanOrEqual(Date.now() + MAX_KEY_LIFETIME_MS);
    // And the API accepts what it emitted.
    await expectJson(await adminFetch(`/orgs/${id}/keys/${data.id}`), 200);
    const list = await expectJson<{ data: KeyJson[] }>(await adminFetch(`/orgs/${id}/keys`), 200);
    for (const key of list.data) for (const date of [key.created_at, key.expires_at, key.revoked_at]) if (date !== null) expect(date).toMatch(RFC3339);
  });
});

describe("scopes per key are bounded (17.9)", () => {
  it("refuses more than 50 scopes at create and PATCH", async () => {
    const { id } = await createOrg();
    const many = Array.from({ length: MAX_SCOPES_PER_KEY + 1 }, () => "demo:read");
    expect(fields(await expectError(await adminFetch(`/orgs/${id}/keys`, { json: { name: "k", scopes: many } }), 400, "validation_error"))).toEqual(["scopes"]);
    const { id: keyId } = await createKey(id);
    expect(fields(await expectError(await adminFetch(`/orgs/${id}/keys/${keyId}`, { method: "PATCH", json: { scopes: many } }), 400, "validation_error"))).toEqual(["scopes"]);
  });

  it("refuses scopes whose X-Keygate-Scopes header would exceed 2048 bytes, before the catalogue check", async () => {
    const { id } = await createOrg();
    const long = Array.from({ length: 30 }, (_, i) => `x${i}:${"a".repeat(90)}`);
    const body = await expectError(await adminFetch(`/orgs/${id}/keys`, { json: { name: "k", scopes: long } }), 400, "validation_error");
    expect(fields(body)).toEqual(["scopes"]);
    expect(body.error.details![0]!.message).toContain("2048 bytes");
  });
});

describe("meta and page bounds (18.8)", () => {
  it("counts meta in UTF-8 bytes, not UTF-16 units", async () => {
    const { id } = await createOrg();
    // 1,500 three-byte characters: 1,500 UTF-16 units but 4,500 bytes.
    const meta = { note: "€".repeat(1500) };
    const body = await expectError(await adminFetch(`/orgs/${id}/keys`, { json: { name: "k", scopes: ["demo:read"], meta } }), 400, "validation_error");
    expect(fields(body)).toEqual(["meta"]);
    expect(body.error.details![0]!.message).toContain(`${MAX_META_BYTES} bytes`);
    await expectJson(await adminFetch(`/orgs/${id}/keys`, { json: { name: "k", scopes: ["demo:read"], meta: { note: "€".repeat(1000) } } }), 201);
  });

  it(`refuses meta nested deeper than ${MAX_META_DEPTH} levels (500 levels included), at create and PATCH`, async () => {
    const { id } = await createOrg();
    const nest = (levels: number) => {
      let value: unknown = 1;
      for (let i = 0; i < levels - 1; i++) value = i % 2 === 0 ? { a: value } : [value];
      return { top: value };
    };
    for (const levels of [MAX_META_DEPTH + 1, 500]) {
      const body = await expectError(await adminFetch(`/orgs/${id}/keys`, { json: { name: "k", scopes: ["demo:read"], meta: nest(levels) } }), 400, "validation_error");
      expect(fields(body)).toEqual(["meta"]);
    }
    const { id: keyId } = await createKey(id);
    expect(fields(await expectError(await adminFetch(`/orgs/${id}/keys/${keyId}`, { method: "PATCH", json: { meta: nest(500) } }), 400, "validation_error"))).toEqual(["meta"]);
    await expectJson(await adminFetch(`/orgs/${id}/keys/${keyId}`, { method: "PATCH", json: { meta: nest(MAX_META_DEPTH) } }), 200);
  });

  it("refuses a page beyond the maximum on every list (no offset overflow)", async () => {
    const { id } = await createOrg();
    await createKey(id);
    // The key usage view has no pages (its recent sample is bounded at 100); the org view pages its per-key totals.
    for (const path of ["/orgs", `/orgs/${id}/keys`, `/orgs/${id}/audit`, `/orgs/${id}/usage`]) {
      for (const page of ["10001", "9007199254740993", "1e300"]) {
        expect(new Set(fields(await expectError(await adminFetch(`${path}?page=${page}`), 400, "validation_error"))), `${path}?page=${page}`).toEqual(new Set(["page"]));
      }
      await expectJson(await adminFetch(`${path}?page=10000`), 200);
    }
  });
});

describe("a key cannot change a key holding scopes it lacks (18.3)", () => {
  it("refuses PATCH, revoke and rotate of an admin key by a keys:write key with 403 insufficient_scope; the target is untouched", async () => {
    const { id } = await createOrg();
    const admin = await createKey(id, { scopes: ["admin"] });
    const writer = await createKey(id, { scopes: ["keys:write", "keys:read", "demo:read"] });
    const attempts: [string, string, unknown][] = [
      ["PATCH", "", { scopes: ["demo:read"] }],
      ["PATCH", "", { name: "demoted" }],
      ["POST", "/revoke", undefined],
      ["POST", "/rotate", {}],
    ];
    for (const [method, suffix, json] of attempts) {
      const body = await expectError(await keyFetch(writer.key, orgPath(id, `/keys/${admin.id}${suffix}`), { method, json }), 403, "insufficient_scope");
      expect(body.error.message).toContain("admin");
    }
    const { data } = await expectJson<{ data: KeyJson }>(await adminFetch(`/orgs/${id}/keys/${admin.id}`), 200);
    expect(data).toMatchObject({ name: "test key", scopes: ["admin"], status: "active" });
    const audit = await expectJson<{ data: unknown[] }>(await adminFetch(`/orgs/${id}/audit?key_id=${admin.id}&action=key.updated,key.revoked,key.rotated`), 200);
    expect(audit.data).toHaveLength(0);
  });

  it("still lets a key change keys whose scopes it holds, and an admin key or the operator change any", async () => {
    const { id } = await createOrg();
    const writer = await createKey(id, { scopes: ["keys:write", "demo:read"] });
    const admin = await createKey(id, { scopes: ["admin"] });
    const plain = await createKey(id, { scopes: ["demo:read"] });
    await expectJson(await keyFetch(writer.key, orgPath(id, `/keys/${plain.id}`), { method: "PATCH", json: { name: "renamed" } }), 200);
    await expectJson(await keyFetch(writer.key, orgPath(id, `/keys/${plain.id}/rotate`), { json: { grace_period: "1h" } }), 201);
    await expectJson(await keyFetch(writer.key, orgPath(id, `/keys/${plain.id}/revoke`), { method: "POST" }), 200);
    const other = await createKey(id, { scopes: ["demo:write"] });
    await expectJson(await keyFetch(admin.key, orgPath(id, `/keys/${other.id}`), { method: "PATCH", json: { name: "by admin" } }), 200);
    await expectError(await keyFetch(writer.key, orgPath(id, `/keys/${other.id}/revoke`), { method: "POST" }), 403, "insufficient_scope");
    await expectJson(await adminFetch(`/orgs/${id}/keys/${other.id}/revoke`, { method: "POST" }), 200);
  });
});
