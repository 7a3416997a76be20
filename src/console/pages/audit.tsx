import type { FC } from "hono/jsx";
import type { ApiError } from "../api";
import { ErrorSummary, keyBase, Layout, orgBase, type PageContext, When } from "../layout";
import { Pager, type Pagination, queryString, Value } from "./shared";

export interface AuditEvent {
  id: string;
  action: string;
  actor?: string;
  key_id?: string | null;
  created_at?: string;
  count?: number;
  source?: string | null;
  reason?: string | null;
  details?: unknown;
}

export interface AuditFilters {
  action?: string;
  key_id?: string;
  since?: string;
  until?: string;
}

export const AuditPage: FC<{ page: PageContext; orgId: string; actions: readonly string[]; filters: AuditFilters; events: AuditEvent[]; pagination?: Pagination; error?: ApiError | null }> = ({
  page,
  orgId,
  actions,
  filters,
  events,
  pagination,
  error,
}) => {
  const base = `${orgBase(orgId)}/audit`;
  return (
    <Layout title="Audit" page={page}>
      <form method="get" action={base} class="filters">
        <div>
          <label for="action">Action</label>
          <select id="action" name="action">
            <option value="" selected={!filters.action}>
              Any
            </option>
            {actions.map((a) => (
              <option value={a} selected={filters.action === a}>
                {a}
              </option>
            ))}
          </select>
        </div>
        <div>
          <label for="key_id">Key id</label>
          <input id="key_id" name="key_id" type="text" maxlength={64} value={filters.key_id ?? ""} placeholder="key_…" />
        </div>
        <div>
          <label for="since">From date</label>
          <input id="since" name="since" type="date" value={filters.since ?? ""} />
        </div>
        <div>
          <label for="until">To date</label>
          <input id="until" name="until" type="date" value={filters.until ?? ""} />
        </div>
        <button type="submit" class="secondary">
          Filter
        </button>
      </form>
      <ErrorSummary error={error} title="Could not read the audit trail" />
      {events.length === 0 && !error ? (
        <p class="empty">No events match.</p>
      ) : (
        <table class="audit">
          <thead>
            <tr>
              <th scope="col">When</th>
              <th scope="col">Action</th>
              <th scope="col">Actor</th>
              <th scope="col">Key</th>
              <th scope="col">Details</th>
            </tr>
          </thead>
          <tbody>
            {events.map((event) => (
              <tr>
                <td>
                  <When value={event.created_at} />
                </td>
                <td class="code">{event.action}</td>
                <td class="code">{event.actor ?? "—"}</td>
                <td class="code">{event.key_id ? <a href={keyBase(orgId, event.key_id)}>{event.key_id}</a> : "—"}</td>
                <td>
                  {event.action === "auth.failed" ? (
                    <span>
                      {event.count ?? 1} × {event.reason ?? "?"} from {event.source ?? "?"}
                    </span>
                  ) : (
                    <Value value={event.details} />
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <Pager pagination={pagination} href={(p) => base + queryString({ ...filters, page: p })} />
    </Layout>
  );
};
