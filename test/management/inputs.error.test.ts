// Inputs a careless or hostile client sends that the schema's types alone let through: names with
// characters that rewrite what a person sees, numbers that only Number() calls integers, instants past
// year 9999 and backwards ranges. Each is refused 400 validation_error naming the field, on every route
// that takes it.
import { describe, expect, it } from "vitest";
import { adminFetch, createKey, createOrg, type KeyJson, type OrgJson } from "../harness";
import { expectError, expectJson, fields } from "./support";

const UNSAFE_NAMES: [string, string][] = [
  ["an escape sequence", "evil\u001b[2Jname"],
  ["a NUL", "a\u0000b"],
  ["a newline inside", "line\nbreak"],
  ["DEL", "del\u007f"],
  ["a C1 control", "c1\u009bcontrol"],
  ["a right-to-left override", "invoice\u202Etxt.exe"],
  ["a bidi isolate", "a\u2066b"],
  ["a line separator", "a\u2028b"],
  ["an unpaired high surrogate", "x\ud800y"],
  ["an unpaired low surrogate", "\udc00"],
];

// Names people really use: accents, CJK, emoji (surrogate pairs), inner spaces, punctuation.
const FINE_NAMES = ["Zürich café", "東京チーム", "payments 🙂🚀", "a-b_c.d (prod) #1", "ß".repeat(100), "🙂".repeat(50)];

describe("names hold no characters that rewrite what a person sees", () => {
  it("refuses control characters, bidi overrides and unpaired surrogates in an org name, at create and PATCH", async () => {
    const { id } = await createOrg();
    for (const [what, name] of UNSAFE_NAMES) {
      expect(fields(await expectError(await adminFetch("/orgs", { json: { name, tier: "free" } }), 400, "validation_error")), what).toEqual(["name"]);
      expect(fields(await expectError(await adminFetch(`/orgs/${id}`, { method: "PATCH", json: { name } }), 400, "validation_error")), what).toEqual(["name"]);
    }
    const { data } = await expectJson<{ data: OrgJson }>(await adminFetch(`/orgs/${id}`), 200);
    expect(data.name).toMatch(/^test org \d+$/);
  });

  it("refuses them in a key name, at create and PATCH, and creates nothing", async () => {
    const { id } = await createOrg();
    const { id: keyId } = await createKey(id);
    for (const [what, name] of UNSAFE_NAMES) {
      expect(fields(await expectError(await adminFetch(`/orgs/${id}/keys`, { json: { name, scopes: ["demo:read"] } }), 400, "validation_error")), what).toEqual(["name"]);
      expect(fields(await expectError(await adminFetch(`/orgs/${id}/keys/${keyId}`, { method: "PATCH", json: { name } }), 400, "validation_error")), what).toEqual(["name"]);
    }
    const list = await expectJson<{ data: KeyJson[] }>(await adminFetch(`/orgs/${id}/keys`), 200);
    expect(list.data.map((key) => key.name)).toEqual(["test key"]);
  });

  it("keeps every other name exactly as sent (read back from D1), surrounding spaces trimmed", async () => {
    const { id } = await createOrg();
    for (const name of FINE_NAMES) {
      const created = await expectJson<{ data: KeyJson }>(await adminFetch(`/orgs/${id}/keys`, { json: { name: `  ${name} `, scopes: ["demo:read"] } }), 201);
      const read = await expectJson<{ data: KeyJson }>(await adminFetch(`/orgs/${id}/keys/${created.data.id}`), 200);
      expect(read.data.name).toBe(name);
      const org = await expectJson<{ data: OrgJson }>(await adminFetch("/orgs", { json: { name, tier: "free" } }), 201);
      expect((await expectJson<{ data: OrgJson }>(await adminFetch(`/orgs/${org.data.id}`), 200)).data.name).toBe(name);
    }
  });
});

describe("page and per_page are decimal integers", () => {
  it("refuses hex, exponents, decimals, signs and spaces on every list, and still takes plain digits", async () => {
    const { id } = await createOrg();
    const { id: keyId } = await createKey(id);
    const lists = ["/orgs", `/orgs/${id}/keys`, `/orgs/${id}/audit`, `/orgs/${id}/usage`, "/auth-failures"];
    for (const path of lists) {
      for (const value of ["0x10", "1e1", "1.0", "+1", "%201", "1%20", "", "0b1"]) {
        for (const name of ["page", "per_page"]) {
          expect(fields(await expectError(await adminFetch(`${path}?${name}=${value}`), 400, "validation_error")), `${path}?${name}=${value}`).toEqual([name]);
        }
      }
      const { pagination } = await expectJson<{ pagination: { page: number; per_page: number } }>(await adminFetch(`${path}?page=02&per_page=10`), 200);
      expect(pagination).toMatchObject({ page: 2, per_page: 10 });
    }
    expect(keyId).toMatch(/^key_/);
  });
});

describe("dates in queries stay within years 0000-9999 and ranges run forwards", () => {
  it("refuses an instant that falls in year 10000 UTC on every date filter, and takes the last instant of 9999", async () => {
    const { id } = await createOrg();
    const { id: keyId } = await createKey(id);
    const filters: [string, string][] = [
      [`/orgs/${id}/audit`, "since"],
      [`/orgs/${id}/audit`, "until"],
      [`/orgs/${id}/keys`, "unused_since"],
      ["/auth-failures", "since"],
      ["/auth-failures", "until"],
      [`/orgs/${id}/usage`, "until"],
      [`/orgs/${id}/keys/${keyId}/usage`, "until"],
    ];
    for (const [path, name] of filters) {
      const body = await expectError(await adminFetch(`${path}?${name}=${encodeURIComponent("9999-12-31T23:59:59-12:00")}`), 400, "validation_error");
      expect(fields(body), `${path}?${name}`).toEqual([name]);
      await expectJson(await adminFetch(`${path}?${name}=9999-12-31T23:59:59Z`), 200);
    }
  });

  it("answers a usage range ending on 9999-12-31 with RFC 3339 instants", async () => {
    const { id } = await createOrg();
    const { data } = await expectJson<{ data: { since: string; until: string } }>(await adminFetch(`/orgs/${id}/usage?granularity=day&since=9999-12-01&until=9999-12-31`), 200);
    expect(data).toMatchObject({ since: "9999-12-01T00:00:00.000Z", until: "9999-12-31T23:59:59.999Z" });
  });

  it("refuses since after until on the audit trail and the auth-failure list, as the usage views do", async () => {
    const { id } = await createOrg();
    for (const path of [`/orgs/${id}/audit`, "/auth-failures", `/orgs/${id}/usage`]) {
      expect(fields(await expectError(await adminFetch(`${path}?since=2026-02-01&until=2026-01-31`), 400, "validation_error")), path).toEqual(["since"]);
      // One bare day is a range from its first to its last millisecond.
      await expectJson(await adminFetch(`${path}?since=2026-01-31&until=2026-01-31`), 200);
    }
  });
});

describe("a refusal stays within the envelope's documented bounds, whatever the body held", () => {
  it("names at most 200 problems (the last counts the rest) for a body of thousands of unknown fields", async () => {
    const { id } = await createOrg();
    const body = `{"name":"x","scopes":["demo:read"],${Array.from({ length: 6000 }, (_, i) => `"k${i}":1`).join(",")}}`;
    const res = await adminFetch(`/orgs/${id}/keys`, { method: "POST", headers: { "content-type": "application/json" }, body });
    const error = await expectError(res, 400, "validation_error");
    expect(error.error.details).toHaveLength(200);
    expect(error.error.details![0]).toEqual({ field: "k0", message: "is not a known field" });
    expect(error.error.details![199]).toEqual({ field: "body", message: "and 5801 more problems" });
  });

  it("cuts a client's 10,000-character field name to 200 characters in details and the message to 2000", async () => {
    const { id } = await createOrg();
    const long = "🙂".repeat(10_000);
    const error = await expectError(await adminFetch("/orgs", { json: { name: "x", tier: "free", [long]: 1 } }), 400, "validation_error");
    const [detail] = error.error.details!;
    expect(Array.from(detail!.field)).toHaveLength(200);
    expect(detail!.field.endsWith("🙂…")).toBe(true);
    expect(Array.from(error.error.message).length).toBeLessThanOrEqual(2000);
    expect(id).toMatch(/^org_/);
  });
});

describe("an unknown route's 404 stays within the envelope's bounds", () => {
  it("cuts a 20,000-character path in the message", async () => {
    const body = await expectError(await adminFetch(`/${"x".repeat(20_000)}`), 404, "not_found");
    expect(body.error.message.length).toBeLessThanOrEqual(2000);
    expect(body.error.message).toContain("no management route GET /_keygate/v1/xxx");
  });
});

describe("name filters take only what a name can hold", () => {
  it("refuses a NUL or another control character in ?name= on the org and key lists (a NUL matched every name)", async () => {
    const { id } = await createOrg();
    await createKey(id);
    for (const path of ["/orgs", `/orgs/${id}/keys`]) {
      for (const value of ["%00", "a%1Bb", "%E2%80%AE"]) {
        expect(fields(await expectError(await adminFetch(`${path}?name=${value}`), 400, "validation_error")), `${path}?name=${value}`).toEqual(["name"]);
      }
    }
    const { data } = await expectJson<{ data: KeyJson[] }>(await adminFetch(`/orgs/${id}/keys?name=${encodeURIComponent("test k")}`), 200);
    expect(data).toHaveLength(1);
  });
});

describe("revoke takes no options", () => {
  it("refuses an unknown field (like every other body) and leaves the key active; no body or {} revokes", async () => {
    const { id } = await createOrg();
    const first = await createKey(id);
    const body = await expectError(await adminFetch(`/orgs/${id}/keys/${first.id}/revoke`, { json: { reason: "leaked" } }), 400, "validation_error");
    expect(body.error.details).toEqual([{ field: "reason", message: "is not a known field" }]);
    expect((await expectJson<{ data: KeyJson }>(await adminFetch(`/orgs/${id}/keys/${first.id}`), 200)).data.status).toBe("active");
    expect((await expectJson<{ data: KeyJson }>(await adminFetch(`/orgs/${id}/keys/${first.id}/revoke`, { method: "POST" }), 200)).data.status).toBe("revoked");
    const second = await createKey(id);
    expect((await expectJson<{ data: KeyJson }>(await adminFetch(`/orgs/${id}/keys/${second.id}/revoke`, { json: {} }), 200)).data.status).toBe("revoked");
    const third = await createKey(id);
    const empty = await adminFetch(`/orgs/${id}/keys/${third.id}/revoke`, { method: "POST", headers: { "content-type": "application/json" }, body: "" });
    expect((await expectJson<{ data: KeyJson }>(empty, 200)).data.status).toBe("revoked");
  });
});
