import { HARD_BOUND_FACTOR } from "../cache";
import type { KeyCache } from "../cache/interface";
import type { Config } from "../config";
import { type ErrorCode, KeygateError } from "../errors";
import { BODY_LENGTH, CHECKSUM_LENGTH, parseKey } from "../keys/format";
import { hashKey } from "../keys/hash";
import { AUTH_FAILURE_REASONS, type AuthFailureReason } from "../store/auth_failures";
import type { KeyRecord } from "../store/key_records";
import { wwwAuthenticate } from "./credentials";

export type { AuthFailureReason };

/** The recorded reasons that are also error codes: a refused key or credential header (all but a wrong operator token). */
export type AuthFailureCode = Extract<AuthFailureReason, ErrorCode>;
/** What `verifyKey` refuses a key for (two keys in one request are refused earlier, by extractCredential). */
export type KeyFailureReason = Exclude<AuthFailureCode, "conflicting_credentials">;

const AUTH_FAILURE_CODES: ReadonlySet<string> = new Set<AuthFailureReason>(AUTH_FAILURE_REASONS.filter((reason) => reason !== "invalid_admin_token"));

/** True when an error code is a failed authentication: recorded in auth_failures and counted against AUTH_FAILURE_LIMIT. */
export function isAuthFailureCode(code: ErrorCode): code is AuthFailureCode {
  return AUTH_FAILURE_CODES.has(code);
}

const MESSAGES: Record<KeyFailureReason, string> = {
  missing_credentials: "an API key is required: send 'Authorization: Bearer <key>' or 'X-API-Key: <key>'",
  malformed_key: "the API key is malformed (wrong prefix, length or checksum)",
  invalid_key: "the API key is not valid",
  key_revoked: "the API key has been revoked",
  key_expired: "the API key has expired",
  key_disabled: "the API key is disabled; its owner can enable it again",
};

export class AuthFailure extends KeygateError {
  readonly reason: KeyFailureReason;
  /** The record when the key exists (revoked/expired/disabled), so failures can be attributed to its org. */
  readonly record: KeyRecord | null;

  constructor(reason: KeyFailureReason, record: KeyRecord | null = null) {
    super(reason, MESSAGES[reason], {
      headers: { "WWW-Authenticate": wwwAuthenticate(reason === "missing_credentials" ? undefined : "invalid_token") },
    });
    this.reason = reason;
    this.record = record;
  }
}

/**
 * SPEC §3 steps 2-4: format and checksum first (no I/O at all for garbage), then the
 * tiered lookup by hash, then status. Expiry is checked against `now` on every call,
 * so a cached record cannot outlive its key.
 */
export async function verifyKey(key: string | null, config: Config, cache: KeyCache, now = Date.now()): Promise<KeyRecord> {
  if (!key) throw new AuthFailure("missing_credentials");
  // A warm key's hash comes from isolate memory (key_index.ts): no SHA-256 on its requests. Only keys
  // that passed the full format check and resolved are indexed, and a key with this prefix and this
  // length can only have passed it with this prefix: an indexed key skips the checksum too.
  const prefix = config.keyPrefix;
  const indexed = key.startsWith(prefix) && key.length === prefix.length + BODY_LENGTH + CHECKSUM_LENGTH ? cache.index.hashOf(key, now) : undefined;
  if (indexed === undefined && !parseKey(key, prefix).ok) throw new AuthFailure("malformed_key");
  const hash = indexed ?? (await hashKey(key));
  const record = await cache.get(hash);
  if (!record) throw new AuthFailure("invalid_key");
  if (indexed === undefined) cache.index.add(key, hash, config.memoryCacheTtlMs * HARD_BOUND_FACTOR, now);
  // Revoked is final as stored, whatever this clock says: revoked_at was stamped by the revoking isolate's clock.
  if (record.revokedAt !== null) throw new AuthFailure("key_revoked", record);
  if (record.expiresAt !== null && record.expiresAt <= now) throw new AuthFailure("key_expired", record);
  if (record.disabledAt != null) throw new AuthFailure("key_disabled", record);
  return record;
}
