// The daily Cron Trigger runs two idempotent jobs (key.expiring, key.rotation_due): one failing must not
// skip the other, and the run still reports the failure (so the Cron's log shows it).
import { createScheduledController } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type { Env } from "../../src/env";
import worker from "../../src/index";
import { EXPIRING_KEYS_CRON } from "../../src/webhooks/expiring";
import { adminFetch, createKey, createOrg } from "../harness";
import { setKeyColumns } from "../management/support";

describe("the daily cron", () => {
  it("writes the rotation reminders even when announcing expiring keys fails", async () => {
    const { id: orgId } = await createOrg();
    const old = await createKey(orgId);
    const now = Date.now();
    await setKeyColumns(old.id, { created_at: now - 100 * 86_400_000 });
    // key.expiring's writes (D1 batches) fail; the reminders use other statements.
    const DB = new Proxy(env.DB, {
      get(target, prop) {
        if (prop === "batch") return () => Promise.reject(new Error("D1 batch failed (injected fault)"));
        const value = Reflect.get(target, prop) as unknown;
        return typeof value === "function" ? value.bind(target) : value;
      },
    });
    const expiring = await createKey(orgId, { expires_in: "30d" });
    await setKeyColumns(expiring.id, { expires_at: now + 86_400_000 });
    const original = console.error;
    console.error = () => {};
    try {
      await expect(worker.scheduled(createScheduledController({ cron: EXPIRING_KEYS_CRON, scheduledTime: now }), { ...env, DB } as Env)).rejects.toThrow(/injected fault/);
    } finally {
      console.error = original;
    }
    const audit = (await (await adminFetch(`/orgs/${orgId}/audit?action=key.rotation_due`)).json()) as { data: { key_id: string }[] };
    expect(audit.data.map((row) => row.key_id)).toEqual([old.id]);
  });
});
