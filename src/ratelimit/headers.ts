import { type Policy, type PolicyDecision, policySeconds } from "./counters";

/**
 * `RateLimit-Policy` and `RateLimit` as in draft-ietf-httpapi-ratelimit-headers (one list member per
 * policy: `"burst";q=10;w=1, "default";q=600;w=60, "quota";q=100000;w=2592000` and
 * `"burst";r=9;t=1, …`), plus the de-facto `X-RateLimit-Limit`, `-Remaining` and `-Reset` of the
 * most restrictive policy: among those that refused, the one that admits last; else the one with
 * the least left. `t` is when that policy next gives a unit back (or, having refused, admits this
 * request's cost again), so on a 429 `Retry-After`, the refusing policy's `t` and
 * `X-RateLimit-Reset` are the same number. Without decisions (the store was down and the failure
 * mode admitted) only the policies are known and only they are sent.
 */
export function rateLimitHeaders(policies: readonly Policy[], decisions: readonly PolicyDecision[] | undefined, now: number, policyHeader = rateLimitPolicy(policies)): Record<string, string> {
  const headers: Record<string, string> = { "RateLimit-Policy": policyHeader };
  if (!decisions) {
    headers["X-RateLimit-Limit"] = String(Math.min(...policies.map((p) => p.limit)));
    return headers;
  }
  const seconds: number[] = [];
  let rateLimit = "";
  let refused = false;
  for (let i = 0; i < decisions.length; i++) {
    const d = decisions[i]!;
    seconds.push(resetSeconds(d, policies[i]!, now));
    rateLimit += `${i === 0 ? "" : ", "}"${d.name}";r=${d.remaining};t=${seconds[i]}`;
    if (!d.allowed) refused = true;
  }
  headers["RateLimit"] = rateLimit;
  const tightest = mostRestrictive(decisions, seconds);
  headers["X-RateLimit-Limit"] = String(decisions[tightest]!.limit);
  headers["X-RateLimit-Remaining"] = String(decisions[tightest]!.remaining);
  headers["X-RateLimit-Reset"] = String(seconds[tightest]);
  // Added only on a refusal, never added and deleted: a `delete` turns the object into a slow
  // dictionary that every later read of it (withHeaders, per request) pays for.
  if (refused) headers["Retry-After"] = headers["X-RateLimit-Reset"];
  return headers;
}

/** The `RateLimit-Policy` value: it depends on the policies only, so callers may build it once per plan. */
export function rateLimitPolicy(policies: readonly Policy[]): string {
  return policies.map((p) => `"${p.name}";q=${p.limit};w=${policySeconds(p)}`).join(", ");
}

/** Whole seconds until `at`, rounded up so a client that waits that long is never early. */
export function secondsUntil(at: number, now: number): number {
  return Math.max(0, Math.ceil((at - now) / 1000));
}

/** A refusal's wait is at least a second; a cost that can never fit says "one whole policy span". */
function resetSeconds(decision: PolicyDecision, policy: Policy, now: number): number {
  if (!Number.isFinite(decision.resetAt)) return policySeconds(policy);
  const seconds = secondsUntil(decision.resetAt, now);
  return decision.allowed ? seconds : Math.max(1, seconds);
}

/** Index of the policy X-RateLimit-* and Retry-After describe. */
export function mostRestrictive(decisions: readonly PolicyDecision[], seconds: readonly number[]): number {
  let best = 0;
  for (let i = 1; i < decisions.length; i++) {
    const a = decisions[best]!;
    const b = decisions[i]!;
    if (a.allowed !== b.allowed) {
      if (!b.allowed) best = i;
    } else if (!a.allowed ? seconds[i]! > seconds[best]! : b.remaining < a.remaining || (b.remaining === a.remaining && seconds[i]! > seconds[best]!)) {
      best = i;
    }
  }
  return best;
}
