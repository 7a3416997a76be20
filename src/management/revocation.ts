import type { KeyCache } from "../cache/interface";
import { newId } from "../keys/ids";
import { type AuditEntry, recordAuditIf } from "../store/audit";
import { changedRows, type Db } from "../store/conditional";
import { type KeyRow, revokedAtExactly, revokeKeyOnce } from "../store/keys";
import { eventOf } from "../webhooks/events";
import type { PublishEvents } from "../webhooks/publish";

export interface RevocationDeps {
  db: Db;
  cache: KeyCache;
  publish: PublishEvents;
}

export interface RevokeOptions {
  /** Recorded in the key.revoked details, e.g. "leaked". */
  reason?: string;
  /** More audit rows written (and announced) only if this call is the one that revoked the key. */
  alsoRecord?: Omit<AuditEntry, "orgId" | "keyId">[];
}

/**
 * The one revoke: the management API's POST .../revoke and a leak report both come here. Sets
 * `revoked_at` once and writes key.revoked (and `alsoRecord`) in the same batch, only for the revoke
 * that happened, so a repeat or a race audits and announces nothing twice. The caches are purged on
 * every call, so repeating a revoke whose purge failed finishes the job. Returns whether this call
 * revoked the key.
 */
export async function revokeKey(deps: RevocationDeps, row: KeyRow, actor: string, now: number, options: RevokeOptions = {}): Promise<boolean> {
  let revoked = false;
  if (row.revokedAt === null) {
    const { db } = deps;
    const base = { orgId: row.orgId, keyId: row.id };
    const entries = [
      ...(options.alsoRecord ?? []).map((entry) => ({ ...entry, ...base, id: newId("evt") })),
      { ...base, id: newId("evt"), action: "key.revoked" as const, actor, details: options.reason ? { name: row.name, reason: options.reason } : { name: row.name } },
    ];
    const happened = revokedAtExactly(db, row.id, now);
    const [update] = await db.batch([revokeKeyOnce(db, row.id, now), ...entries.map((entry) => recordAuditIf(db, entry, now, happened))]);
    revoked = changedRows(update) > 0;
    await deps.cache.purge([row.hash]);
    if (revoked) await deps.publish(entries.map((entry) => eventOf(entry, now)));
    return revoked;
  }
  await deps.cache.purge([row.hash]);
  return revoked;
}
