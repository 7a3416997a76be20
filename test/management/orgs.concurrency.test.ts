// Concurrent changes to one org, each to a different field: every change lands (none writes back the
// fields it did not change, as read before the other's write).
import { describe, expect, it } from "vitest";
import { adminFetch, createOrg, type OrgJson } from "../harness";
import { expectJson } from "./support";

describe("concurrent org PATCHes", () => {
  it("keeps every field each concurrent PATCH changed", async () => {
    for (let round = 0; round < 5; round++) {
      const { id } = await createOrg({ tier: "free", max_active_keys: 25 });
      const answers = await Promise.all([
        adminFetch(`/orgs/${id}`, { method: "PATCH", json: { name: `renamed ${round}` } }),
        adminFetch(`/orgs/${id}`, { method: "PATCH", json: { tier: "pro" } }),
        adminFetch(`/orgs/${id}`, { method: "PATCH", json: { max_active_keys: 7 } }),
      ]);
      for (const res of answers) await expectJson(res, 200);
      const { data } = await expectJson<{ data: OrgJson }>(await adminFetch(`/orgs/${id}`), 200);
      expect(data, `round ${round}`).toMatchObject({ name: `renamed ${round}`, tier: "pro", max_active_keys: 7 });
    }
  });
});
