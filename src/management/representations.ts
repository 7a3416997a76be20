import { z } from "@hono/zod-openapi";
import { AUDIT_ACTIONS, type AuditRow, presentAuditDetails } from "../store/audit";
import { MAX_ALLOWED_IPS, MAX_IP_ENTRY_LENGTH } from "../restrictions/ip_allowlist";
import { KEY_STATUSES, type KeyRow, keyStatus } from "../store/keys";
import type { OrgRow } from "../store/orgs";
import { keyLimitsFields, presentKeyLimits } from "./key_limits";
import { idString, int32, int64, iso, timestamp } from "./schemas";

// The API's resource shapes: the zod schemas document them, the present* functions build them.
// A key's hash is never part of any of them, and the key itself only of `CreatedKey`.

export const OrgSchema = z
  .object({
    id: idString("org_3kTMd9vW1qXb2LcY8nZp"),
    name: z.string().max(100),
    tier: z.string().max(32).regex(/^[a-z][a-z0-9_-]{0,31}$/),
    max_active_keys: int32(1, 10_000),
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

export const KeySchema = z
  .object({
    id: idString("key_8hQ2vN5mXcR1tLp0WzKa"),
    name: z.string().max(100),
    identifier: z.string().max(25).regex(/^[a-z][a-z0-9_]*_[A-Za-z0-9]{8}$/).openapi({ description: "Key prefix plus the first 8 body characters", example: "kg_4fTq9ZbX" }),
    last4: z.string().max(4).regex(/^[A-Za-z0-9]{4}$/).openapi({ example: "x7Qa" }),
    scopes: z.array(z.string().max(100)).max(50),
    status: z.enum(KEY_STATUSES).openapi({ description: "Computed: revoked and expired are final; disabled is a suspended key (enabled: false)" }),
    enabled: z.boolean().openapi({ description: "false while the key is suspended" }),
    disabled_at: timestamp.nullable(),
    allowed_ips: z.array(z.string().max(MAX_IP_ENTRY_LENGTH)).max(MAX_ALLOWED_IPS).openapi({ description: "Normalised addresses/CIDR ranges the key may be used from; empty: anywhere", example: ["203.0.113.0/24"] }),
    created_at: timestamp,
    age_days: int32(0, 1_000_000).openapi({ description: "Whole days since created_at; rotate keys older than ROTATION_REMINDER_AFTER (default 90)" }),
    expires_at: timestamp.nullable(),
    last_used_at: timestamp.nullable(),
    revoked_at: timestamp.nullable(),
    ...keyLimitsFields,
    rotated_from: idString("key_8hQ2vN5mXcR1tLp0WzKa").nullable().openapi({ description: "Id of the key this one replaced by rotation" }),
    rotated_to: idString("key_2mWq7ZkR4xNcV9tLp1Ya").nullable().openapi({ description: "Id of the key that replaced this one by rotation (a key is rotated at most once); null while it has not been rotated" }),
    meta: z.record(z.string().max(100), z.unknown()).nullable().openapi({ description: "As given at create or PATCH (at most 4096 bytes as JSON)" }),
  })
  .openapi("Key");

export const CreatedKeySchema = KeySchema.extend({
  key: z
    .string()
    .max(70)
    .regex(/^[a-z][a-z0-9_]*_[A-Za-z0-9]{49}$/)
    .openapi({ description: "The full API key. Shown only in this response: store it now." }),
}).openapi("CreatedKey");

/** `rotatedTo`: the successor's id (store/keys.ts findSuccessor, listKeys); required, so no caller can leave it out. */
export function presentKey(row: KeyRow, now: number, rotatedTo: string | null): z.infer<typeof KeySchema> {
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
    ...presentKeyLimits(row.rateLimit),
    rotated_from: row.rotatedFrom,
    rotated_to: rotatedTo,
    meta: row.meta,
  };
}

export const AuditEventSchema = z
  .object({
    id: idString("evt_5Rk2mQ8xNcV1tLp0WzKa"),
    action: z.enum(AUDIT_ACTIONS).openapi({ example: "key.created" }),
    actor: idString("operator").openapi({ description: "\"operator\" or the id of the org key that acted; for auth.failed, the key that failed" }),
    key_id: idString("key_8hQ2vN5mXcR1tLp0WzKa").nullable(),
    created_at: timestamp,
    last_seen_at: timestamp.openapi({ description: "Latest occurrence; differs from created_at only for aggregated rows" }),
    count: int64(1).openapi({ description: "Occurrences this row stands for (aggregated auth.failed rows count many)" }),
    source: z.string().max(64).nullable().openapi({ description: "auth.failed: the client address (CF-Connecting-IP)" }),
    reason: z.string().max(64).regex(/^[a-z_]+$/).nullable().openapi({ description: "auth.failed: the error code the client got" }),
    details: z.record(z.string().max(100), z.unknown()).nullable(),
  })
  .openapi("AuditEvent");

export function presentAuditEvent(row: AuditRow): z.infer<typeof AuditEventSchema> {
  return {
    id: row.id,
    action: row.action as (typeof AUDIT_ACTIONS)[number],
    actor: row.actor,
    key_id: row.keyId,
    created_at: iso(row.createdAt)!,
    last_seen_at: iso(row.lastSeenAt)!,
    count: row.count,
    source: row.source,
    reason: row.reason,
    details: row.details && presentAuditDetails(row.details),
  };
}

