import { and, asc, count, countDistinct, desc, eq, gte, lte, type SQL, sql, sum } from "drizzle-orm";
import { type Db, offsetOf, type Page } from "./conditional";
import type { ErrorCode } from "../errors";
import { authFailures } from "./schema";

/**
 * Every reason a failed authentication is recorded with (SPEC §9), the one list: the gateway's and
 * the management API's refusals of a presented key (each is also the error code the client gets),
 * and a wrong operator token (`invalid_admin_token`, answered as `unauthorized`). src/auth/
 * derives the narrower sets from it; the usage consumer accepts exactly these.
 */
export const AUTH_FAILURE_REASONS = [
  "missing_credentials",
  "malformed_key",
  "invalid_key",
  "key_revoked",
  "key_expired",
  "key_disabled",
  "conflicting_credentials",
  "invalid_admin_token",
] as const satisfies readonly (ErrorCode | "invalid_admin_token")[];
export type AuthFailureReason = (typeof AUTH_FAILURE_REASONS)[number];

export interface AuthFailureFilters {
  source?: string;
  reason?: string;
  /** Epoch ms: buckets whose [first_seen_at, last_seen_at] span overlaps [since, until]. */
  since?: number;
  until?: number;
}

/** A bucket is one source, reason and hour; its first failure falls in that hour (integer division: whole hours). */
const hourOf = sql<number>`(${authFailures.firstSeenAt} / 3600000) * 3600000`;

/** The unattributed failures (no org to file them under), newest hour first, busiest first within an hour. */
export async function listAuthFailures(db: Db, filters: AuthFailureFilters, page: Page) {
  const where: SQL | undefined = and(
    filters.source === undefined ? undefined : eq(authFailures.source, filters.source),
    filters.reason === undefined ? undefined : eq(authFailures.reason, filters.reason),
    filters.since === undefined ? undefined : gte(authFailures.lastSeenAt, filters.since),
    filters.until === undefined ? undefined : lte(authFailures.firstSeenAt, filters.until),
  );
  const [rows, totals] = await db.batch([
    db
      .select({ hour: hourOf, source: authFailures.source, reason: authFailures.reason, count: authFailures.count, firstSeenAt: authFailures.firstSeenAt, lastSeenAt: authFailures.lastSeenAt })
      .from(authFailures)
      .where(where)
      .orderBy(desc(hourOf), desc(authFailures.count), asc(authFailures.bucket))
      .limit(page.perPage)
      .offset(offsetOf(page)),
    db.select({ buckets: count(), failures: sum(authFailures.count), sources: countDistinct(authFailures.source) }).from(authFailures).where(where),
  ]);
  const total = totals[0];
  return { rows, buckets: total?.buckets ?? 0, failures: Number(total?.failures ?? 0), sources: total?.sources ?? 0 };
}
