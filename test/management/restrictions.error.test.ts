// Bad input for allowed_ips and enabled (issue 14): 400 validation_error naming the field.
import { describe, expect, it } from "vitest";
import { adminFetch, createKey, createOrg } from "../harness";
import { expectError, fields, revokedKey } from "./support";

const create = (orgId: string, json: unknown) => adminFetch(`/orgs/${orgId}/keys`, { json });
const patch = (orgId: string, keyId: string, json: unknown) => adminFetch(`/orgs/${orgId}/keys/${keyId}`, { method: "PATCH", json });

describe("allowed_ips: bad input", () => {
  it.each([
    ["a host name", "example.com"],
    ["an IPv4 prefix over 32", "10.0.0.0/33"],
    ["an IPv6 prefix over 128", "2001:db8::/129"],
    ["a negative prefix", "10.0.0.0/-1"],
    ["an empty prefix", "10.0.0.0/"],
    ["an octet over 255", "10.0.0.256"],
    ["IPv4 shorthand", "10.1"],
    ["an IPv6 zone id", "fe80::1%eth0"],
    ["an empty string", ""],
    ["a string over 64 characters", "1".repeat(65)],
  ])("%s is refused with the entry named (create and PATCH)", async (_name, entry) => {
    const { id } = await createOrg();
    const body = await expectError(await create(id, { name: "k", scopes: ["demo:read"], allowed_ips: ["192.0.2.1", entry] }), 400, "validation_error");
    expect(fields(body)).toEqual(["allowed_ips[1]"]);
    const { id: keyId } = await createKey(id);
    expect(fields(await expectError(await patch(id, keyId, { allowed_ips: [entry] }), 400, "validation_error"))).toEqual(["allowed_ips[0]"]);
  });

  it("more than 50 entries are refused; 50 are fine", async () => {
    const { id } = await createOrg();
    const many = (n: number) => Array.from({ length: n }, (_, i) => `192.0.2.${i}`);
    const body = await expectError(await create(id, { name: "k", scopes: ["demo:read"], allowed_ips: many(51) }), 400, "validation_error");
    expect(fields(body)).toEqual(["allowed_ips"]);
    expect((await create(id, { name: "k", scopes: ["demo:read"], allowed_ips: many(50) })).status).toBe(201);
  });

  it.each([["a string", "10.0.0.0/8"], ["an object", { ip: "10.0.0.1" }], ["numbers", [10]]])("allowed_ips as %s is refused", async (_name, value) => {
    const { id } = await createOrg();
    const body = await expectError(await create(id, { name: "k", scopes: ["demo:read"], allowed_ips: value }), 400, "validation_error");
    expect(fields(body)[0]).toMatch(/^allowed_ips/);
  });
});

describe("enabled: bad input", () => {
  it.each([["the string \"false\"", "false"], ["0", 0], ["null", null], ["an array", [false]]])("enabled as %s is refused", async (_name, value) => {
    const { id } = await createOrg();
    const { id: keyId } = await createKey(id);
    expect(fields(await expectError(await patch(id, keyId, { enabled: value }), 400, "validation_error"))).toEqual(["enabled"]);
  });

  it("enabled is not a create field", async () => {
    const { id } = await createOrg();
    expect(fields(await expectError(await create(id, { name: "k", scopes: ["demo:read"], enabled: false }), 400, "validation_error"))).toEqual(["enabled"]);
  });

  it("a revoked key cannot be enabled or disabled (revocation is permanent): 409", async () => {
    const { id } = await createOrg();
    const { id: keyId } = await revokedKey(id);
    await expectError(await patch(id, keyId, { enabled: true }), 409, "conflict");
    await expectError(await patch(id, keyId, { enabled: false }), 409, "conflict");
  });
});
