import { z } from "@hono/zod-openapi";
import type { Config } from "../config";
import { KeygateError } from "../errors";
import { parseKey, redactKeys } from "../keys/format";
import { hashKey } from "../keys/hash";
import { newId } from "../keys/ids";
import { WRITE_ATTEMPTS } from "../management/concurrency";
import { type RevocationDeps, revokeKeys } from "../management/revocation";
import { recordAuditIf } from "../store/audit";
import { changedRows } from "../store/conditional";
import { keysByHashes, leakNotYetRecorded } from "../store/key_events";
import { type KeyRow, keyStatus } from "../store/keys";
import { eventOf } from "../webhooks/events";

/** GitHub sends at most 1,000 matches per request. */
export const MAX_TOKENS_PER_REPORT = 1000;

export const LeakedTokenSchema = z
  .object({
    token: z.string().min(1).max(1024).openapi({ description: "The matched string (never stored, logged or echoed)" }),
    type: z.string().min(1).max(200).openapi({ description: "The secret type name registered with GitHub", example: "keygate_api_key" }),
    // Git allows paths of 4 KiB: one long URL must not refuse (and so leave unrevoked) the whole report. The body's 2 MiB bounds the total.
    // null is read as "" (unknown): a field GitHub could not fill must not refuse, and so leave unrevoked, the whole report.
    url: z.string().max(8192).nullable().default("").openapi({ description: "Where GitHub found it (null or \"\": unknown)", example: "https://github.com/octo/repo/blob/abc/config.env" }),
    source: z.string().max(100).nullable().default("").openapi({ description: "content, commit, pull_request, gist, npm, … (null or \"\": unknown)", example: "content" }),
  })
  .openapi("LeakedToken");

export const LeakReportSchema = z.array(LeakedTokenSchema).max(MAX_TOKENS_PER_REPORT).openapi("LeakReport");

export const LeakLabelSchema = z
  .object({
    token_hash: z.string().length(64).openapi({ description: "SHA-256 of the token, lowercase hex" }),
    token_type: z.string().max(200),
    label: z.enum(["true_positive", "false_positive"]).openapi({ description: "true_positive: a key this gateway issued (whatever its status now)" }),
  })
  .openapi("LeakLabel");

export type LeakedToken = z.infer<typeof LeakedTokenSchema>;
export type LeakLabel = z.infer<typeof LeakLabelSchema>;

/** The audit actor of everything a leak report does. */
export const LEAK_ACTOR = "github-secret-scanning";

/** key.leaked inserts per D1 batch in notify mode. */
const AUDITS_PER_BATCH = 100;

/**
 * Answers every token and handles each live key of this gateway once per report, per
 * LEAKED_KEY_ACTION. A token that fails the format check is a false positive without any lookup;
 * the well-formed ones are looked up together in one D1 round trip.
 */
export async function handleLeakReport(deps: RevocationDeps, config: Config, tokens: LeakedToken[], now: number): Promise<LeakLabel[]> {
  const hashes = await Promise.all(tokens.map((t) => hashKey(t.token)));
  const candidates = new Set(hashes.filter((_, i) => parseKey(tokens[i]!.token, config.keyPrefix).ok));
  const found = new Map((await keysByHashes(deps.db, [...candidates])).map((row) => [row.hash, row]));

  // The first report of each live key in this request decides its url/source/type.
  const live = new Map<string, { row: KeyRow; report: LeakedToken }>();
  hashes.forEach((hash, i) => {
    const row = found.get(hash);
    if (row && isLive(row, now) && !live.has(row.id)) live.set(row.id, { row, report: tokens[i]! });
  });
  const work = [...live.values()];
  if (config.leakedKeyAction === "revoke") {
    await revokeLeaked(deps, config, work, now);
  } else {
    await recordLeaks(deps, config, work, now);
  }

  // For `wrangler tail`: counts only, never a token or a hash.
  console.log(`keygate: secret scanning report: ${tokens.length} token(s), ${found.size} of this gateway, ${work.length} live (${config.leakedKeyAction})`);
  return tokens.map((t, i) => ({ token_hash: hashes[i]!, token_type: t.type, label: found.has(hashes[i]!) ? "true_positive" : "false_positive" }));
}

/**
 * Live: not revoked, not expired. A suspended (disabled) key is live too: it can be enabled again at any
 * time, so a leaked one must be revoked (or, with notify, recorded) like an active one.
 */
function isLive(row: KeyRow, now: number): boolean {
  const status = keyStatus(row, now);
  return status === "active" || status === "disabled";
}

/** Revokes each live key; one changed since it was read (a concurrent PATCH) is read again and retried. */
async function revokeLeaked(deps: RevocationDeps, config: Config, work: { row: KeyRow; report: LeakedToken }[], now: number): Promise<void> {
  let pending = work;
  for (let attempt = 0; pending.length > 0 && attempt < WRITE_ATTEMPTS; attempt++) {
    const revocations = pending.map(({ row, report }) => ({ row, reason: "leaked", alsoRecord: [{ action: "key.leaked" as const, actor: LEAK_ACTOR, details: leakDetails(config, row, report) }] }));
    const { stale } = await revokeKeys(deps, revocations, LEAK_ACTOR, now);
    if (stale.size === 0) return;
    const reports = new Map(pending.filter(({ row }) => stale.has(row.id)).map(({ row, report }) => [row.hash, report]));
    const fresh = await keysByHashes(deps.db, [...reports.keys()]);
    pending = fresh.filter((row) => isLive(row, now)).map((row) => ({ row, report: reports.get(row.hash)! }));
  }
  // Not a 200: GitHub retries a report that failed, and the keys revoked so far stay revoked (repeats change nothing).
  if (pending.length > 0) throw new KeygateError("conflict", `${pending.length} reported key(s) changed concurrently ${WRITE_ATTEMPTS} times in a row; send the report again`);
}

function leakDetails(config: Config, row: KeyRow, report: LeakedToken) {
  // GitHub's text is kept (audit, webhook): any key in it is cut to its identifier, never stored whole.
  const kept = (text: string | null) => redactKeys(text ?? "", config.keyPrefix);
  return { name: row.name, url: kept(report.url), source: kept(report.source), type: kept(report.type), action: config.leakedKeyAction };
}

/** notify: a key.leaked row (and event) per key and location not recorded before; the key keeps working. */
async function recordLeaks(deps: RevocationDeps, config: Config, work: { row: KeyRow; report: LeakedToken }[], now: number): Promise<void> {
  const { db } = deps;
  for (let i = 0; i < work.length; i += AUDITS_PER_BATCH) {
    const entries = work
      .slice(i, i + AUDITS_PER_BATCH)
      .map(({ row, report }) => ({ id: newId("evt"), orgId: row.orgId, action: "key.leaked" as const, actor: LEAK_ACTOR, keyId: row.id, details: leakDetails(config, row, report) }));
    const [first, ...rest] = entries.map((entry) => recordAuditIf(db, entry, now, leakNotYetRecorded(db, entry.keyId, entry.details.url)));
    const results = await db.batch([first!, ...rest]);
    await deps.publish(entries.filter((_, j) => changedRows(results[j]) > 0).map((entry) => eventOf(entry, now)));
  }
}
