// Scope discovery and wildcard scopes (issue 16).
import { describe, expect, it } from "vitest";
import { adminFetch, createKey, createOrg, gatewayFetch, type KeyJson, keyFetch, MANAGEMENT } from "../harness";
import { securityTests } from "./security";
import { expectError, expectJson, orgPath } from "./support";

securityTests({ method: "GET", path: "/scopes", allows: "any-credential" });

interface ScopeJson {
  name: string;
  description: string;
  builtin: boolean;
}

describe("GET /scopes", () => {
  it("lists the catalogue with descriptions to the operator, built-in scopes marked", async () => {
    const { data } = await expectJson<{ data: ScopeJson[] }>(await adminFetch("/scopes"), 200);
    expect(data.map((s) => s.name)).toEqual(["admin", "keys:read", "keys:write", "audit:read", "demo:read", "demo:write"]);
    expect(data.find((s) => s.name === "demo:read")).toEqual({ name: "demo:read", description: "Read from the demo API", builtin: false });
    expect(data.find((s) => s.name === "keys:write")?.builtin).toBe(true);
  });

  it("answers any authenticated key, even one with no management scope", async () => {
    const { id } = await createOrg();
    const { key } = await createKey(id, { scopes: ["demo:read"] });
    expect((await expectJson<{ data: ScopeJson[] }>(await keyFetch(key, `${MANAGEMENT}/scopes`), 200)).data).toHaveLength(6);
  });

  it("is in the OpenAPI document, whose introduction tells key holders how to keep keys", async () => {
    const doc = await expectJson<{ info: { description: string }; paths: Record<string, Record<string, unknown>> }>(await gatewayFetch(`${MANAGEMENT}/openapi.json`), 200);
    expect(doc.paths[`${MANAGEMENT}/scopes`]?.get).toBeDefined();
    for (const advice of ["secrets manager", "never commit", "secret scanning", "one key per integration", "expiry", "grace period", "ignore unknown fields"]) {
      expect(doc.info.description.toLowerCase()).toContain(advice);
    }
  });
});

describe("wildcard scopes", () => {
  it("a key with demo:* may call every demo route", async () => {
    const { id } = await createOrg();
    const { key, data } = await createKey(id, { scopes: ["demo:*"] });
    expect(data.scopes).toEqual(["demo:*"]);
    expect((await keyFetch(key, "/demo/x")).status).toBe(200);
    expect((await keyFetch(key, "/demo/x", { method: "POST" })).status).toBe(200);
  });

  it("keys:* works on the management API like keys:read plus keys:write", async () => {
    const { id } = await createOrg();
    const { key } = await createKey(id, { scopes: ["keys:*", "demo:read"] });
    expect((await keyFetch(key, orgPath(id, "/keys"))).status).toBe(200);
    expect((await keyFetch(key, orgPath(id, "/keys"), { json: { name: "made by keys:*", scopes: ["demo:read"] } })).status).toBe(201);
    await expectError(await keyFetch(key, orgPath(id, "/audit")), 403, "insufficient_scope");
  });

  it("a key can grant the scopes under a wildcard it holds, and a wildcard only if it holds one as broad", async () => {
    const { id } = await createOrg();
    const wild = await createKey(id, { scopes: ["keys:write", "demo:*"] });
    const plain = await createKey(id, { scopes: ["keys:write", "demo:read", "demo:write"] });
    const create = (key: string, scopes: string[]) => keyFetch(key, orgPath(id, "/keys"), { json: { name: "child", scopes } });
    expect((await create(wild.key, ["demo:read", "demo:write"])).status).toBe(201);
    expect((await expectJson<{ data: KeyJson }>(await create(wild.key, ["demo:*"]), 201)).data.scopes).toEqual(["demo:*"]);
    const body = await expectError(await create(plain.key, ["demo:*"]), 403, "insufficient_scope");
    expect(body.error.details).toEqual([{ field: "scopes[0]", message: "the calling key does not hold demo:*" }]);
    await expectError(await create(wild.key, ["keys:read"]), 403, "insufficient_scope");
  });

  it("a key manages keys whose scopes its wildcard covers, never a key holding a broader wildcard", async () => {
    const { id } = await createOrg();
    const wild = await createKey(id, { scopes: ["keys:write", "demo:*"] });
    const plain = await createKey(id, { scopes: ["keys:write", "demo:read", "demo:write"] });
    const narrow = await createKey(id, { scopes: ["demo:read"] });
    const broad = await createKey(id, { scopes: ["demo:*"] });
    expect((await keyFetch(wild.key, orgPath(id, `/keys/${narrow.id}`), { method: "PATCH", json: { name: "renamed" } })).status).toBe(200);
    await expectError(await keyFetch(plain.key, orgPath(id, `/keys/${broad.id}`), { method: "PATCH", json: { name: "renamed" } }), 403, "insufficient_scope");
    await expectError(await keyFetch(plain.key, orgPath(id, `/keys/${broad.id}/revoke`), { method: "POST" }), 403, "insufficient_scope");
  });

  it("'*' alone, a misplaced wildcard and one that matches nothing are 400, with the valid scopes listed", async () => {
    const { id } = await createOrg();
    for (const scope of ["*", "demo:r*", "nope:*", "*:read"]) {
      const body = await expectError(await adminFetch(`/orgs/${id}/keys`, { json: { name: "k", scopes: [scope] } }), 400, "validation_error");
      expect(body.error.details?.[0]?.field, scope).toBe("scopes[0]");
      expect(body.error.details?.filter((d) => d.field === "valid_scopes").map((d) => d.message)).toContain("demo:read");
    }
  });
});
