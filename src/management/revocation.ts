import type { KeyCache } from "../cache/interface";
import { newId } from "../keys/ids";
import { type AuditEntry, recordAuditIf } from "../store/audit";
import { changedRows, type Db } from "../store/conditional";
import { type KeyRow, revokedAtExactly, revokeKeyOnce } from "../store/keys";
import { eventOf, type WebhookEvent } from "../webhooks/events";
import type { PublishEvents } from "../webhooks/publish";

export interface RevocationDeps {
  db: Db;
  cache: KeyCache;
  publish: PublishEvents;
}

export interface Revocation {
  row: KeyRow;
  /** Recorded in the key.revoked details, e.g. "leaked". */
  reason?: string;
  /** More audit rows written (and announced) only if this call is the one that revoked the key. */
  alsoRecord?: Omit<AuditEntry, "orgId" | "keyId">[];
}

/** Keys per D1 batch: a few statements each, well under D1's per-batch limits. */
const KEYS_PER_BATCH = 50;

/**
 * The one revoke: the management API's POST .../revoke and leak reports both come here. For each key,
 * `revoked_at` is set once and key.revoked (and `alsoRecord`) written in the same batch, only for the
 * revoke that happened, so a repeat or a race audits and announces nothing twice. Many keys share D1
 * batches, one cache purge and one queue send: a report of 1,000 live keys fits GitHub's time budget.
 * The caches are purged on every call, so repeating a revoke whose purge failed finishes the job.
 * Returns the ids this call revoked.
 */
export async function revokeKeys(deps: RevocationDeps, revocations: Revocation[], actor: string, now: number): Promise<Set<string>> {
  const { db } = deps;
  const revoked = new Set<string>();
  const events: WebhookEvent[] = [];
  const pending = revocations.filter((r) => r.row.revokedAt === null);
  for (let i = 0; i < pending.length; i += KEYS_PER_BATCH) {
    const chunk = pending.slice(i, i + KEYS_PER_BATCH).map(({ row, reason, alsoRecord }) => {
      const base = { orgId: row.orgId, keyId: row.id };
      const entries = [
        ...(alsoRecord ?? []).map((entry) => ({ ...entry, ...base, id: newId("evt") })),
        { ...base, id: newId("evt"), action: "key.revoked" as const, actor, details: reason ? { name: row.name, reason } : { name: row.name } },
      ];
      const happened = revokedAtExactly(db, row.id, now);
      return { row, entries, statements: [revokeKeyOnce(db, row.id, now), ...entries.map((entry) => recordAuditIf(db, entry, now, happened))] };
    });
    const [first, ...rest] = chunk.flatMap((c) => c.statements);
    const results = await db.batch([first!, ...rest]);
    let offset = 0;
    for (const { row, entries, statements } of chunk) {
      if (changedRows(results[offset]) > 0) {
        revoked.add(row.id);
        for (const entry of entries) events.push(eventOf(entry, now)!);
      }
      offset += statements.length;
    }
  }
  await deps.cache.purge(revocations.map((r) => r.row.hash));
  await deps.publish(events);
  return revoked;
}

export async function revokeKey(deps: RevocationDeps, row: KeyRow, actor: string, now: number, options: Omit<Revocation, "row"> = {}): Promise<boolean> {
  return (await revokeKeys(deps, [{ row, ...options }], actor, now)).has(row.id);
}
