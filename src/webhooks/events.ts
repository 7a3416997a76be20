import { type AuditEntry, presentAuditDetails } from "../store/audit";

/** SPEC §10: the events keygate announces. Each is also (or, for key.expiring, only) an audit row. */
export const WEBHOOK_EVENT_TYPES = ["key.created", "key.updated", "key.revoked", "key.rotated", "key.disabled", "key.enabled", "key.leaked", "key.expiring", "key.rotation_due"] as const;
export type WebhookEventType = (typeof WEBHOOK_EVENT_TYPES)[number];

/**
 * One event as queued and as delivered (the JSON body). `id` is the `webhook-id` header and the id of
 * the audit row that records the change, so every retry of one change carries the same id and a
 * receiver can deduplicate on it. `data` holds ids, names, scopes and times: never a key or a hash.
 */
export interface WebhookEvent {
  id: string;
  type: WebhookEventType;
  /** ISO 8601, when the change happened. */
  timestamp: string;
  data: { org_id: string; key_id: string; actor: string } & Record<string, unknown>;
}

export function isWebhookEventType(action: string): action is WebhookEventType {
  return (WEBHOOK_EVENT_TYPES as readonly string[]).includes(action);
}

/** The event announcing an audited change; the audit row's id becomes the event id, and `data` reads as that row's details do in the audit trail. */
export function eventOf(entry: AuditEntry & { id: string; keyId: string }, now: number): WebhookEvent | null {
  if (!isWebhookEventType(entry.action)) return null;
  return {
    id: entry.id,
    type: entry.action,
    timestamp: new Date(now).toISOString(),
    data: { ...(entry.details ? presentAuditDetails(entry.details) : {}), org_id: entry.orgId, key_id: entry.keyId, actor: entry.actor },
  };
}
