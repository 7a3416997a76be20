import { z } from "@hono/zod-openapi";
import { consistencyMode } from "../config";
import { formatDuration } from "../duration";
import type { AuditRow } from "../store/audit";
import { MAX_ALLOWED_IPS, MAX_IP_ENTRY_LENGTH } from "../restrictions/ip_allowlist";
import { KEY_STATUSES, type KeyRow, keyStatus } from "../store/keys";
import type { OrgRow } from "../store/orgs";
import { iso, timestamp } from "./schemas";

// The API's resource shapes: the zod schemas document them, the present* functions build them.
// A key's hash is never part of any of them, and the key itself only of `CreatedKey`.

export const OrgSchema = z
  .object({
    id: z.string().openapi({ example: "org_3kTMd9vW1qXb2LcY8nZp" }),
    name: z.string(),
    tier: z.string(),
    max_active_keys: z.number().int(),
    created_at: timestamp,
    updated_at: timestamp,
  })
  .openapi("Org");

export function presentOrg(row: OrgRow): z.infer<typeof OrgSchema> {
  return {
    id: row.id,
    name: row.name,
    tier: row.tier,
    max_active_keys: row.maxActiveKeys,
    created_at: iso(row.createdAt)!,
    updated_at: iso(row.updatedAt)!,
  };
}

export const RateLimitSchema = z
  .object({
    limit: z.number().int().openapi({ example: 100 }),
    window: z.string().openapi({ example: "60s" }),
    mode: consistencyMode.optional(),
  })
  .openapi("KeyRateLimit");

export const KeySchema = z
  .object({
    id: z.string().openapi({ example: "key_8hQ2vN5mXcR1tLp0WzKa" }),
    name: z.string(),
    identifier: z.string().openapi({ description: "Key prefix plus the first 8 body characters", example: "kg_4fTq9ZbX" }),
    last4: z.string().openapi({ example: "x7Qa" }),
    scopes: z.array(z.string()),
    status: z.enum(KEY_STATUSES).openapi({ description: "Computed: revoked and expired are final; disabled is a suspended key (enabled: false)" }),
    enabled: z.boolean().openapi({ description: "false while the key is suspended" }),
    disabled_at: timestamp.nullable(),
    allowed_ips: z.array(z.string().max(MAX_IP_ENTRY_LENGTH)).max(MAX_ALLOWED_IPS).openapi({ description: "Normalised addresses/CIDR ranges the key may be used from; empty: anywhere", example: ["203.0.113.0/24"] }),
    created_at: timestamp,
    age_days: z.number().int().min(0).openapi({ description: "Whole days since created_at; rotate keys older than ROTATION_REMINDER_AFTER (default 90)" }),
    expires_at: timestamp.nullable(),
    last_used_at: timestamp.nullable(),
    revoked_at: timestamp.nullable(),
    rate_limit: RateLimitSchema.nullable().openapi({ description: "Per-key override of the tier's limit; null uses the tier" }),
    rotated_from: z.string().nullable().openapi({ description: "Id of the key this one replaced by rotation" }),
    meta: z.record(z.string(), z.unknown()).nullable(),
  })
  .openapi("Key");

export const CreatedKeySchema = KeySchema.extend({
  key: z.string().openapi({ description: "The full API key. Shown only in this response: store it now." }),
}).openapi("CreatedKey");

export function presentKey(row: KeyRow, now: number): z.infer<typeof KeySchema> {
  return {
    id: row.id,
    name: row.name,
    identifier: row.identifier,
    last4: row.last4,
    scopes: row.scopes,
    status: keyStatus(row, now),
    enabled: row.disabledAt === null,
    disabled_at: iso(row.disabledAt),
    allowed_ips: row.allowedIps ?? [],
    created_at: iso(row.createdAt)!,
    age_days: Math.max(0, Math.floor((now - row.createdAt) / 86_400_000)),
    expires_at: iso(row.expiresAt),
    last_used_at: iso(row.lastUsedAt),
    revoked_at: iso(row.revokedAt),
    rate_limit: row.rateLimit
      ? { limit: row.rateLimit.limit, window: formatDuration(row.rateLimit.window), ...(row.rateLimit.mode ? { mode: row.rateLimit.mode } : {}) }
      : null,
    rotated_from: row.rotatedFrom,
    meta: row.meta,
  };
}

export const AuditEventSchema = z
  .object({
    id: z.string(),
    action: z.string().openapi({ example: "key.created" }),
    actor: z.string().openapi({ description: "\"operator\" or the id of the org key that acted; for auth.failed, the key that failed" }),
    key_id: z.string().nullable(),
    created_at: timestamp,
    last_seen_at: timestamp.openapi({ description: "Latest occurrence; differs from created_at only for aggregated rows" }),
    count: z.number().int().openapi({ description: "Occurrences this row stands for (aggregated auth.failed rows count many)" }),
    source: z.string().nullable().openapi({ description: "auth.failed: the client address" }),
    reason: z.string().nullable().openapi({ description: "auth.failed: the error code the client got" }),
    details: z.record(z.string(), z.unknown()).nullable(),
  })
  .openapi("AuditEvent");

export function presentAuditEvent(row: AuditRow): z.infer<typeof AuditEventSchema> {
  return {
    id: row.id,
    action: row.action,
    actor: row.actor,
    key_id: row.keyId,
    created_at: iso(row.createdAt)!,
    last_seen_at: iso(row.lastSeenAt)!,
    count: row.count,
    source: row.source,
    reason: row.reason,
    details: row.details,
  };
}
