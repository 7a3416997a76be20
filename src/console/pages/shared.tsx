import type { FC } from "hono/jsx";

/** A key as the API represents it; fields the console does not know yet are rendered generically. */
export interface ApiKey {
  id: string;
  name: string;
  identifier?: string;
  last4?: string;
  scopes?: string[];
  status?: string;
  created_at?: string;
  expires_at?: string | null;
  last_used_at?: string | null;
  revoked_at?: string | null;
  rate_limit?: unknown;
  rotated_from?: string | null;
  /** The key that replaced this one by rotation: a key is rotated once, so it offers no Rotate. */
  rotated_to?: string | null;
  [field: string]: unknown;
}

export interface ApiOrg {
  id: string;
  name: string;
  tier: string;
  max_active_keys?: number;
  created_at?: string;
  [field: string]: unknown;
}

export interface Pagination {
  page: number;
  per_page: number;
  total: number;
}

/** `kg_4fTq9ZbX…x7Qa`: what identifies a key to people, never the key. */
export const maskedKey = (key: Pick<ApiKey, "identifier" | "last4">) => `${key.identifier ?? "?"}…${key.last4 ?? "????"}`;

/** Any JSON value, compactly: arrays as lists, objects as `k: v` pairs, null as a dash. */
export const Value: FC<{ value: unknown }> = ({ value }) => {
  if (value === null || value === undefined || value === "") return <span class="muted">—</span>;
  if (Array.isArray(value)) return value.length === 0 ? <span class="muted">none</span> : <span>{value.map((v) => (typeof v === "object" ? JSON.stringify(v) : String(v))).join(", ")}</span>;
  if (typeof value === "object") {
    const text = Object.entries(value as Record<string, unknown>)
      .map(([k, v]) => `${k}: ${typeof v === "object" && v !== null ? JSON.stringify(v) : String(v)}`)
      .join(", ");
    return <span class="code">{text}</span>;
  }
  return <span>{String(value)}</span>;
};

export const StatusBadge: FC<{ status?: unknown }> = ({ status }) => <span class={`badge ${typeof status === "string" ? status : ""}`}>{typeof status === "string" ? status : "unknown"}</span>;

/** "Page 2 of 5" with Previous/Next links that keep the other query parameters. */
export const Pager: FC<{ pagination?: Pagination; href: (page: number) => string }> = ({ pagination, href }) => {
  if (!pagination) return null;
  const pages = Math.max(1, Math.ceil(pagination.total / pagination.per_page));
  return (
    <nav class="pager" aria-label="Pages">
      {pagination.page > 1 ? <a href={href(pagination.page - 1)}>Previous page</a> : null}
      <span>
        Page {pagination.page} of {pages} ({pagination.total} in all)
      </span>
      {pagination.page < pages ? <a href={href(pagination.page + 1)}>Next page</a> : null}
    </nav>
  );
};

export function queryString(params: Record<string, string | number | undefined>): string {
  const search = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== "") search.set(k, String(v));
  const text = search.toString();
  return text ? `?${text}` : "";
}

const DAY_MS = 86_400_000;

/**
 * A live key at least ROTATION_REMINDER_AFTER old (the age the daily key.rotation_due reminder uses), not already
 * rotated (its successor is the one to rotate; it only lives out its grace period); never when the reminder is off.
 */
export function rotationDue(key: ApiKey, reminderAfterMs: number | null | undefined): boolean {
  if (!reminderAfterMs || typeof key.age_days !== "number" || key.rotated_to) return false;
  return (key.status === "active" || key.status === "disabled") && key.age_days * DAY_MS >= reminderAfterMs;
}

export const RotateSoonBadge: FC<{ apiKey: ApiKey; reminderAfterMs?: number | null }> = ({ apiKey, reminderAfterMs }) =>
  rotationDue(apiKey, reminderAfterMs) ? (
    <span class="badge rotate" title={`This key is ${String(apiKey.age_days)} days old; rotate it`}>
      rotate soon
    </span>
  ) : null;
