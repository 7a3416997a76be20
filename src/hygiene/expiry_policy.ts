import { formatDuration } from "../duration";

/**
 * The operator's key-expiry policy (issue 16): `REQUIRE_KEY_EXPIRY` and `MAX_KEY_LIFETIME`. It
 * applies when a key is created or rotated, never to keys that already exist (a new policy must
 * not break running integrations; the README shows how to list the keys that violate it).
 */
export interface ExpiryPolicy {
  /** REQUIRE_KEY_EXPIRY: a key without `expires_at` is refused. */
  required: boolean;
  /** MAX_KEY_LIFETIME in ms: a key may not live longer than this from its creation; implies `required`. */
  maxLifetimeMs: number | null;
}

/** Why a key expiring at `expiresAt` (null: never) created at `now` breaks the policy, or null. The rule is named. */
export function expiryPolicyProblem(policy: ExpiryPolicy, expiresAt: number | null, now: number): string | null {
  if (policy.maxLifetimeMs !== null) {
    const cap = formatDuration(policy.maxLifetimeMs);
    if (expiresAt === null) return `MAX_KEY_LIFETIME: this gateway requires keys to expire within ${cap}; give expires_in or expires_at`;
    if (expiresAt - now > policy.maxLifetimeMs) return `MAX_KEY_LIFETIME: a key may live at most ${cap}; this one would live ${formatDuration(Math.ceil((expiresAt - now) / 1000) * 1000)}`;
    return null;
  }
  if (policy.required && expiresAt === null) return "REQUIRE_KEY_EXPIRY: this gateway requires every key to expire; give expires_in (30d, 90d, 1y) or expires_at";
  return null;
}
