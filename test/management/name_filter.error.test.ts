// The `name` filter of GET /orgs and GET /orgs/{org_id}/keys at its bounds. D1 caps a LIKE pattern at 50 bytes: a
// filter of 49+ characters (a name may have 100), or a shorter one with `%` or `_` escaped, answered 500.
import { describe, expect, it } from "vitest";
import { adminFetch, createKey, createOrg, type KeyJson, type OrgJson } from "../harness";
import { expectJson } from "./support";

const long = (seed: string) => `${seed} ${"x".repeat(99 - seed.length)}`;

describe("name filter: as long as a name may be", () => {
  it("a key's full 100-character name finds it, case-insensitively", async () => {
    const { id: org } = await createOrg();
    const name = long("Billing Export");
    const target = await createKey(org, { name });
    await createKey(org, { name: "other" });
    expect(name).toHaveLength(100);
    for (const filter of [name, name.toUpperCase(), name.slice(10, 70)]) {
      const { data } = await expectJson<{ data: KeyJson[] }>(await adminFetch(`/orgs/${org}/keys?name=${encodeURIComponent(filter)}`), 200);
      expect(data.map((key) => key.id)).toEqual([target.id]);
    }
  });

  it("%, _ and \\ match themselves, however many there are", async () => {
    const { id: org } = await createOrg();
    const name = `50%_off\\${"%_".repeat(40)}`;
    const target = await createKey(org, { name });
    await createKey(org, { name: "50 percent off" });
    for (const filter of ["50%_off", "%", "_", "\\", "%_".repeat(40)]) {
      const { data } = await expectJson<{ data: KeyJson[] }>(await adminFetch(`/orgs/${org}/keys?name=${encodeURIComponent(filter)}`), 200);
      expect(data.map((key) => key.id), filter).toEqual([target.id]);
    }
  });

  it("an org's full 100-character name finds it", async () => {
    const name = long(`Org ${crypto.randomUUID()}`);
    const { id } = await createOrg({ name });
    const { data } = await expectJson<{ data: OrgJson[] }>(await adminFetch(`/orgs?name=${encodeURIComponent(name.toLowerCase())}`), 200);
    expect(data.map((org) => org.id)).toEqual([id]);
  });
});
