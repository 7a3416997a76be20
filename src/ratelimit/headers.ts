import type { RateLimitDecision } from "./interface";

/** One limit that applied to a request: the key's own (`"default"`) or its org's aggregate (`"org"`). */
export interface PolicyOutcome {
  name: "default" | "org";
  limit: number;
  windowMs: number;
  /** Absent when the store could not answer and the failure mode admitted the request. */
  decision?: RateLimitDecision;
}

/**
 * `RateLimit-Policy` and `RateLimit` as in draft-ietf-httpapi-ratelimit-headers (one list member per
 * policy: `"default";q=60;w=60` and `"default";r=12;t=30`), plus the de-facto `X-RateLimit-Limit`,
 * `-Remaining` and `-Reset` (seconds until the window resets) of the tighter policy: the one that
 * refused, else the one with less left. Without decisions only the policy is known and only it is sent.
 */
export function rateLimitHeaders(outcomes: readonly PolicyOutcome[], now: number): Record<string, string> {
  const headers: Record<string, string> = {
    "RateLimit-Policy": outcomes.map((o) => `"${o.name}";q=${o.limit};w=${windowSeconds(o.windowMs)}`).join(", "),
  };
  const tightest = tighter(outcomes);
  if (!tightest.decision) {
    headers["X-RateLimit-Limit"] = String(tightest.limit);
    return headers;
  }
  headers["RateLimit"] = outcomes
    .filter((o) => o.decision)
    .map((o) => `"${o.name}";r=${o.decision!.remaining};t=${secondsUntil(o.decision!.resetAt, now)}`)
    .join(", ");
  headers["X-RateLimit-Limit"] = String(tightest.limit);
  headers["X-RateLimit-Remaining"] = String(tightest.decision.remaining);
  headers["X-RateLimit-Reset"] = String(secondsUntil(tightest.decision.resetAt, now));
  return headers;
}

/** Whole seconds until `at`, rounded up so a client that waits that long is never early. */
export function secondsUntil(at: number, now: number): number {
  return Math.max(0, Math.ceil((at - now) / 1000));
}

function windowSeconds(windowMs: number): number {
  return Math.max(1, Math.ceil(windowMs / 1000));
}

function tighter(outcomes: readonly PolicyOutcome[]): PolicyOutcome {
  let best = outcomes[0]!;
  for (const outcome of outcomes) {
    const a = best.decision;
    const b = outcome.decision;
    if (!a || !b) continue;
    if ((a.allowed && !b.allowed) || (a.allowed === b.allowed && b.remaining < a.remaining)) best = outcome;
  }
  return best;
}
