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
