import type { KeyEnd, RateLimiter } from "../ratelimit/interface";
import { limiterScope } from "../ratelimit/policy";
import type { KeyRow } from "../store/keys";
import { findOrg } from "../store/orgs";
import type { Services } from "./context";

type LimiterDeps = Pick<Services, "config" | "db" | "limiter">;
type KeyRef = Pick<KeyRow, "id" | "orgId" | "limiterId">;

/**
 * Tells the key's limiter object that the key ended (revoke, rotate) or changed (PATCH), so every
 * gateway request for it, wherever its cached record is stale, learns it in the call it already
 * makes (SPEC §7). Best effort after the commit, never throwing: D1 is the truth, and the caller's retry (revoke is
 * idempotent and tells again) finishes a notice that failed; until then the cache bound applies.
 */
async function tellLimiter(deps: LimiterDeps, row: KeyRef, what: string, tell: (store: RateLimiter, scope: string) => Promise<void>): Promise<void> {
  try {
    // Inside the try too: the change is committed, so a failing read here must not fail the request.
    const org = await findOrg(deps.db, row.orgId);
    const scope = org && limiterScope(deps.config, { orgId: row.orgId, tier: org.tier, id: row.id, limiterId: row.limiterId });
    if (!scope) return;
    await tell(deps.limiter, scope);
  } catch (err) {
    console.warn(`keygate: telling the limiter that key ${row.id} ${what} failed (the cache bound applies until a retry): ${err instanceof Error ? err.message : "error"}`);
  }
}

export const tellLimiterKeyEnded = (deps: LimiterDeps, row: KeyRef, end: KeyEnd) => tellLimiter(deps, row, "ended", (store, scope) => store.endKey(scope, row.id, end));

export const tellLimiterKeyChanged = (deps: LimiterDeps, row: KeyRef, at: number) => tellLimiter(deps, row, "changed", (store, scope) => store.keyChanged(scope, row.id, at));

/** Notices sent at once when a tier change tells every key of an org. */
const NOTICE_CONCURRENCY = 20;

/**
 * An org's tier changed: every live key's limiter object under the OLD tier's scope (where requests
 * holding a record cached with that tier will ask) learns that the key changed at `at`, so a strict
 * request anywhere rereads the record and is decided on the new tier's limits in the call it already
 * makes, as after a key PATCH; fast mode learns it from its next report. Best effort, like the others.
 */
export async function tellLimiterTierChanged(deps: Pick<Services, "config" | "limiter">, oldTier: string, keys: KeyRef[], at: number): Promise<void> {
  let failed = 0;
  for (let i = 0; i < keys.length; i += NOTICE_CONCURRENCY) {
    const results = await Promise.allSettled(
      keys.slice(i, i + NOTICE_CONCURRENCY).map((key) => {
        const scope = limiterScope(deps.config, { orgId: key.orgId, tier: oldTier, id: key.id, limiterId: key.limiterId });
        return scope ? deps.limiter.keyChanged(scope, key.id, at) : Promise.resolve();
      }),
    );
    failed += results.filter((r) => r.status === "rejected").length;
  }
  if (failed > 0) console.warn(`keygate: telling the limiter of a tier change failed for ${failed} of ${keys.length} keys (the cache bound applies to them)`);
}
