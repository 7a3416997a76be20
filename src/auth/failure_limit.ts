import type { Config } from "../config";
import type { Env } from "../env";
import { KeygateError } from "../errors";
import { secondsUntil } from "../ratelimit/headers";
import { singleWindowPlan } from "../ratelimit/policy";
import { clientAddress } from "../restrictions/ip_allowlist";
import type { IPv6 } from "ipaddr.js";
import { limiterStore, warnStoreUnavailable } from "./limiter_store";

/**
 * SPEC §9: a source (client IP) with `AUTH_FAILURE_LIMIT` failed authentications (default 20 per
 * 60 s; a bad operator token or a bad key, on the management API and the hot path alike) is refused
 * 429 `too_many_auth_failures` for the rest of the window, before any credential check.
 *
 * Every failure is counted in this isolate (fixed windows, no I/O). Failures that already cost a
 * lookup (unknown, revoked or expired keys, wrong operator tokens) are also counted in the shared
 * limiter store, one round trip per *failure* (never per successful request), so the limit holds
 * across isolates and locations; malformed keys are not, because SPEC §2 promises they cost no
 * storage or limiter call. A source that reaches the limit is remembered in this isolate until its
 * window ends, so the check before each request is a map lookup; another isolate learns it at the
 * source's next failure there (the shared limit holds to within one extra failure per isolate).
 */
export function clientSource(headers: Headers): string {
  // CF-Connecting-IP is set by Cloudflare and cannot be forged by the client (see README "Security").
  return headers.get("cf-connecting-ip") ?? "unknown";
}

/**
 * The unit AUTH_FAILURE_LIMIT counts: an IPv4 address, or an IPv6 client's /64. One subscriber (a
 * home line, any cheap VPS) is routed a whole /64 and can send from 2^64 addresses, so counting
 * single IPv6 addresses let an attacker rotate through them and never meet the limit (a /64 is one
 * subnet: RFC 4291 gives every interface 64 bits of its own). IPv4-mapped IPv6 counts as its IPv4 address. The recorded `source` of a failure stays the full address, for the operator.
 */
export function failureBucket(source: string): string {
  // IPv4 and "unknown": no parse on the common path.
  if (!source.includes(":")) return source;
  const address = clientAddress(source);
  if (address === null) return source;
  if (address.kind() === "ipv4") return address.toString();
  const parts = (address as IPv6).parts;
  return `${parts[0]!.toString(16)}:${parts[1]!.toString(16)}:${parts[2]!.toString(16)}:${parts[3]!.toString(16)}::/64`;
}

/** Sources over the limit in this isolate → when their window ends (epoch ms). */
const blocked = new Map<string, number>();
/** Bounded: an attacker rotating addresses cannot grow it without limit (the oldest entries go first). */
const MAX_BLOCKED_SOURCES = 10_000;

/** Before any credential check: the refusal for a blocked source, or null. */
export function authFailureRefusal(source: string, now = Date.now()): KeygateError | null {
  if (blocked.size === 0) return null;
  const bucket = failureBucket(source);
  const until = blocked.get(bucket);
  if (until === undefined) return null;
  if (until <= now) {
    blocked.delete(bucket);
    return null;
  }
  return tooManyFailures(until, now);
}

function tooManyFailures(until: number, now: number): KeygateError {
  return new KeygateError("too_many_auth_failures", "too many failed authentications from this address; try again later", {
    headers: { "Retry-After": String(Math.max(1, secondsUntil(until, now))) },
  });
}

/** Failures per source in this isolate: this fixed window's count and the previous one's. Bounded like `blocked`. */
const local = new Map<string, { window: number; current: number; previous: number }>();

function block(source: string, until: number): void {
  blocked.delete(source);
  blocked.set(source, until);
  if (blocked.size > MAX_BLOCKED_SOURCES) blocked.delete(blocked.keys().next().value!);
}

/**
 * The same weighted two-window estimate as the limiter store (sliding_window.ts), so a burst that
 * straddles a window boundary is not forgiven: previous x (time left of it in the sliding window) + current.
 */
function localEstimate(source: string, windowMs: number, now: number): { window: number; current: number; previous: number; estimate: number } {
  const window = Math.floor(now / windowMs);
  const seen = local.get(source);
  const current = seen?.window === window ? seen.current : 0;
  const previous = seen?.window === window ? seen.previous : seen?.window === window - 1 ? seen.current : 0;
  const elapsed = (now - window * windowMs) / windowMs;
  return { window, current, previous, estimate: previous * (1 - elapsed) + current };
}

/** Blocked once there is not room for one more whole failure (an estimate above limit - 1). */
const exhausted = (estimate: number, limit: number) => estimate > limit - 1;

function countLocally(source: string, limit: number, windowMs: number, now: number): void {
  const { window, current, previous, estimate } = localEstimate(source, windowMs, now);
  local.delete(source);
  local.set(source, { window, current: current + 1, previous });
  if (local.size > MAX_BLOCKED_SOURCES) local.delete(local.keys().next().value!);
  if (exhausted(estimate + 1, limit)) block(source, (window + 1) * windowMs);
}

/**
 * After a failed authentication: counts it; from the limit on, the source is refused until the
 * window ends. `shared`: also count it in the limiter store (not for malformed keys, see above).
 */
export async function countAuthFailure(config: Config, env: Env, address: string, options: { shared: boolean }, now = Date.now()): Promise<void> {
  const { limit, windowMs } = config.authFailureLimit;
  const source = failureBucket(address);
  countLocally(source, limit, windowMs, now);
  if (!options.shared) return;
  try {
    const answer = await limiterStore(config, env).record(singleWindowPlan(`authfail:${source}`, limit, windowMs), 1);
    const counted = answer.policies[0]!;
    if (exhausted(limit - counted.remaining, limit)) block(source, Math.max(counted.resetAt, now + 1));
  } catch (err) {
    // Counting failures must never turn a 401 into a 5xx: without the store, only the isolate's count applies.
    warnStoreUnavailable("AUTH_FAILURE_LIMIT", err);
  }
}

/**
 * Rate-limit headers for answers given before a credential is known (401, the 429 above, a 400 for
 * conflicting credentials): the source's failed-authentication budget as this isolate knows it (other
 * locations may have counted more), as policy `auth_failures`.
 */
export function authFailureBudgetHeaders(config: Config, address: string, now = Date.now()): Record<string, string> {
  const { limit, windowMs } = config.authFailureLimit;
  const source = failureBucket(address);
  const until = blocked.get(source);
  const { window, estimate } = localEstimate(source, windowMs, now);
  const isBlocked = until !== undefined && until > now;
  const remaining = isBlocked ? 0 : Math.max(0, Math.floor(limit - estimate));
  const seconds = secondsUntil(isBlocked ? until : (window + 1) * windowMs, now);
  return {
    "RateLimit-Policy": `"auth_failures";q=${limit};w=${Math.max(1, Math.ceil(windowMs / 1000))}`,
    RateLimit: `"auth_failures";r=${remaining};t=${seconds}`,
    "X-RateLimit-Limit": String(limit),
    "X-RateLimit-Remaining": String(remaining),
    "X-RateLimit-Reset": String(seconds),
  };
}

/** `err` with the source's failed-authentication budget headers added (its own headers, e.g. WWW-Authenticate, kept). */
export function withAuthFailureBudget(err: KeygateError, config: Config, source: string, now = Date.now()): KeygateError {
  const budget = authFailureBudgetHeaders(config, source, now);
  // A refusal's own Retry-After wins: it and the budget's reset are computed from the same window end.
  return new KeygateError(err.code, err.message, { details: err.details, headers: { ...budget, ...err.headers } });
}
