// Audit details speak the API's language: times in ISO 8601 and windows as durations, like every other field.
import { describe, expect, it } from "vitest";
import { adminFetch, createKey, createOrg } from "../harness";
import { expectJson } from "./support";

interface AuditPage {
  data: Array<{ action: string; details: Record<string, unknown> | null }>;
}

const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{3})?Z$/;

describe("audit details", () => {
  it("gives key.created and key.updated times in ISO 8601 and rate_limit windows as the caller wrote them, and leaves meta alone", async () => {
    const { id: orgId } = await createOrg();
    const key = await createKey(orgId, { expires_at: "2031-05-06T07:08:09.000Z", rate_limit: { limit: 5, window: "60s" }, meta: { paid_at: 1700000000000 } });
    const patch = await adminFetch(`/orgs/${orgId}/keys/${key.id}`, { method: "PATCH", json: { rate_limit: { limit: 7, window: "2m" }, meta: { paid_at: 1800000000000 } } });
    expect(patch.status).toBe(200);

    const page = await expectJson<AuditPage>(await adminFetch(`/orgs/${orgId}/audit`), 200);
    const created = page.data.find((event) => event.action === "key.created")!;
    expect(created.details).toMatchObject({ expires_at: "2031-05-06T07:08:09.000Z", rate_limit: { limits: [{ name: "default", limit: 5, window: "60s" }] } });
    const updated = page.data.find((event) => event.action === "key.updated")!;
    expect(updated.details).toEqual({
      changes: {
        rate_limit: { from: { limits: [{ name: "default", limit: 5, window: "60s" }] }, to: { limits: [{ name: "default", limit: 7, window: "2m" }] } },
        meta: { from: { paid_at: 1700000000000 }, to: { paid_at: 1800000000000 } },
      },
    });
    for (const event of page.data) {
      for (const [name, value] of Object.entries(event.details ?? {})) if (name.endsWith("_at") && value !== null) expect(value, `${event.action}.${name}`).toMatch(ISO);
    }
  });
});
