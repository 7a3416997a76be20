import type { KeyCache } from "../cache/interface";
import { newId } from "../keys/ids";
import { type AuditEntry, recordAuditIf } from "../store/audit";
import { changedRows, type Db } from "../store/conditional";
import { type KeyRow, keyUnchanged, revokeKeyOnce } from "../store/keys";
import { eventOf, type WebhookEvent } from "../webhooks/events";
import type { PublishEvents } from "../webhooks/publish";

export interface RevocationDeps {
  db: Db;
  cache: KeyCache;
  publish: PublishEvents;
  /** Tells the key's limiter object it ended (SPEC §7), so strict and fast mode refuse it at once. */
  tellEnded: (row: KeyRow, at: number) => Promise<void>;
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

export interface RevocationResult {
  /** Ids this call revoked. */
  revoked: Set<string>;
  /** Ids that changed since they were read (another write won): read them again and retry. */
  stale: Set<string>;
}

/**
 * The one revoke: the management API's POST .../revoke and leak reports both come here. For each key,
 * read at `row.version`, the audit rows (key.revoked and `alsoRecord`) and the revoke are written in
 * one batch under the same condition (the key is still at that version and not revoked), so there is
 * exactly one key.revoked per revocation and a repeat or a lost race audits and announces nothing.
 * Many keys share D1 batches, one cache purge and one queue send: a report of 1,000 live keys fits
 * GitHub's time budget. The caches are purged on every call, so repeating a revoke whose purge
 * failed finishes the job; the same goes for telling the key's limiter object. If a batch fails, the
 * keys of the batches before it are still purged, told and announced before the error is thrown.
 */
export async function revokeKeys(deps: RevocationDeps, revocations: Revocation[], actor: string, now: number): Promise<RevocationResult> {
  const { db } = deps;
  const result: RevocationResult = { revoked: new Set(), stale: new Set() };
  const events: WebhookEvent[] = [];
  const pending = revocations.filter((r) => r.row.revokedAt === null);
  try {
    for (let i = 0; i < pending.length; i += KEYS_PER_BATCH) {
      const chunk = pending.slice(i, i + KEYS_PER_BATCH).map(({ row, reason, alsoRecord }) => {
        const base = { orgId: row.orgId, keyId: row.id };
        const entries = [
          ...(alsoRecord ?? []).map((entry) => ({ ...entry, ...base, id: newId("evt") })),
          { ...base, id: newId("evt"), action: "key.revoked" as const, actor, details: reason ? { name: row.name, reason } : { name: row.name } },
        ];
        // Audit first, under the condition the revoke itself checks: both happen or neither.
        const unchanged = keyUnchanged(db, row.id, row.version);
        return { row, entries, statements: [...entries.map((entry) => recordAuditIf(db, entry, now, unchanged)), revokeKeyOnce(db, row.id, now, row.version)] };
      });
      const [first, ...rest] = chunk.flatMap((c) => c.statements);
      const results = await db.batch([first!, ...rest]);
      let offset = 0;
      for (const { row, entries, statements } of chunk) {
        offset += statements.length;
        if (changedRows(results[offset - 1]) > 0) {
          result.revoked.add(row.id);
          for (const entry of entries) events.push(eventOf(entry, now)!);
        } else {
          result.stale.add(row.id);
        }
      }
    }
  } finally {
    // Also when a later batch failed: the keys revoked by the batches before it are revoked for good, and
    // a repeat no longer sees them as live, so they are purged, told and announced now or never.
    // None of these three throws (each logs its own failure).
    const ended = revocations.filter(({ row }) => row.revokedAt !== null || result.revoked.has(row.id));
    await deps.cache.purge(revocations.map((r) => r.row.hash));
    // Told on every call for every revoked key, like the purge, so a retry finishes a notice that failed.
    await Promise.all(ended.map(({ row }) => deps.tellEnded(row, row.revokedAt ?? now)));
    await deps.publish(events);
  }
  return result;
}
