// Rotation reminders (issue 16): age_days, older_than, and the daily key.rotation_due.
import { createScheduledController } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type { Env } from "../../src/env";
import { remindRotations } from "../../src/hygiene/rotation_reminders";
import worker from "../../src/index";
import { adminFetch, createKey, createOrg, type KeyJson } from "../harness";
import { expectError, expectJson, revokedKey, setKeyColumns } from "./support";

const DAY = 86_400_000;
const PERIOD = 90 * DAY;

/** A key created `days` ago (through the API, then its created_at moved back in D1). */
async function keyAged(orgId: string, days: number, now = Date.now()) {
  const created = await createKey(orgId);
  await setKeyColumns(created.id, { created_at: now - days * DAY });
  return created;
}

interface AuditJson {
  key_id: string;
  actor: string;
  details: { name: string; age_days: number; period: number; rotate_after_days: number };
}
const reminders = async (orgId: string) => (await expectJson<{ data: AuditJson[] }>(await adminFetch(`/orgs/${orgId}/audit?action=key.rotation_due`), 200)).data;

describe("age_days and older_than", () => {
  it("a key shows its age in whole days, and older_than lists only keys at least that old", async () => {
    const { id } = await createOrg();
    const fresh = await createKey(id);
    const old = await keyAged(id, 100);
    expect(fresh.data.age_days).toBe(0);
    expect((await expectJson<{ data: KeyJson }>(await adminFetch(`/orgs/${id}/keys/${old.id}`), 200)).data.age_days).toBe(100);
    const listed = await expectJson<{ data: KeyJson[] }>(await adminFetch(`/orgs/${id}/keys?older_than=90d`), 200);
    expect(listed.data.map((k) => k.id)).toEqual([old.id]);
    expect((await expectJson<{ data: KeyJson[] }>(await adminFetch(`/orgs/${id}/keys?older_than=101d`), 200)).data).toEqual([]);
  });

  it.each(["5h", "90", "soon", "0d"])("older_than=%s is refused, naming the field", async (value) => {
    const { id } = await createOrg();
    const body = await expectError(await adminFetch(`/orgs/${id}/keys?older_than=${value}`), 400, "validation_error");
    expect(body.error.details?.[0]?.field).toBe("older_than");
  });
});

describe("key.rotation_due", () => {
  it("reminds each active key older than the period once per period, and no other key", async () => {
    const { id } = await createOrg();
    const now = Date.now();
    const due = await keyAged(id, 100, now);
    const twice = await keyAged(id, 200, now);
    const young = await keyAged(id, 10, now);
    const revoked = await revokedKey(id);
    await setKeyColumns(revoked.id, { created_at: now - 100 * DAY });
    const disabled = await keyAged(id, 100, now);
    await adminFetch(`/orgs/${id}/keys/${disabled.id}`, { method: "PATCH", json: { enabled: false } });
    const expired = await keyAged(id, 100, now);
    await setKeyColumns(expired.id, { expires_at: now - DAY });

    const written = await remindRotations(env.DB, PERIOD, now);
    expect(written.filter((r) => r.orgId === id).map((r) => r.keyId).sort()).toEqual([due.id, twice.id].sort());
    const rows = await reminders(id);
    expect(rows.map((r) => [r.key_id, r.details.age_days, r.details.period]).sort()).toEqual(
      [
        [due.id, 100, 1],
        [twice.id, 200, 2],
      ].sort(),
    );
    expect(rows[0]!.actor).toBe("keygate");

    // The next day's run (or the same run twice) writes nothing new for the same period.
    expect((await remindRotations(env.DB, PERIOD, now + DAY)).filter((r) => r.orgId === id)).toEqual([]);
    expect(await reminders(id)).toHaveLength(2);
    // 80 days on, each key has entered its next period (the young key its first): one more reminder each.
    expect((await remindRotations(env.DB, PERIOD, now + 80 * DAY)).filter((r) => r.orgId === id).map((r) => r.keyId).sort()).toEqual([due.id, twice.id, young.id].sort());
  });

  it("a rotated key starts over: its successor is new", async () => {
    const { id } = await createOrg();
    const old = await keyAged(id, 100);
    const res = await adminFetch(`/orgs/${id}/keys/${old.id}/rotate`, { method: "POST", json: {} });
    expect(res.status).toBe(201);
    expect((await remindRotations(env.DB, PERIOD, Date.now())).filter((r) => r.orgId === id)).toEqual([]);
  });

  it("a key rotated with a grace period is not reminded while it still works: key.rotated said when it stops", async () => {
    const { id } = await createOrg();
    const old = await keyAged(id, 100);
    const res = await adminFetch(`/orgs/${id}/keys/${old.id}/rotate`, { method: "POST", json: { grace_period: "7d" } });
    expect(res.status).toBe(201);
    expect((await expectJson<{ data: KeyJson }>(await adminFetch(`/orgs/${id}/keys/${old.id}`), 200)).data.status).toBe("active");
    expect((await remindRotations(env.DB, PERIOD, Date.now())).filter((r) => r.orgId === id)).toEqual([]);
    expect(await reminders(id)).toEqual([]);
  });

  it("the daily cron runs it with ROTATION_REMINDER_AFTER, and 'off' turns it off", async () => {
    const { id } = await createOrg();
    const now = Date.now();
    const old = await keyAged(id, 40, now);
    const run = async (vars: Partial<Env>) => {
      await worker.scheduled(createScheduledController({ scheduledTime: now, cron: "17 3 * * *" }), { ...env, ...vars } as Env);
    };
    await run({ ROTATION_REMINDER_AFTER: "off" });
    expect(await reminders(id)).toEqual([]);
    await run({ ROTATION_REMINDER_AFTER: "30d" });
    expect((await reminders(id)).map((r) => r.key_id)).toEqual([old.id]);
  });
});
