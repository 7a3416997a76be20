import type { FC } from "hono/jsx";
import type { ApiError } from "../api";
import { ErrorSummary, keyBase, Layout, type PageContext } from "../layout";
import { RequestsChart, STATUS_CLASSES, type UsageBucket, UsageTable } from "../usage_chart";
import { type ApiKey, maskedKey, StatusBadge } from "./shared";

export interface KeyUsageRow {
  key: ApiKey;
  /** Calls per status class in the chart's range; null when the key's usage could not be read. */
  totals: Record<string, number> | null;
  buckets?: UsageBucket[] | null;
}

/** The org's traffic over the last 24 h: the sum over its most recently used keys, and each key's share. */
export const UsagePage: FC<{ page: PageContext; orgId: string; rows: KeyUsageRow[]; total: UsageBucket[]; error?: ApiError | null; note?: string | null }> = ({ page, orgId, rows, total, error, note }) => (
  <Layout title="Usage" page={page}>
    <ErrorSummary error={error} title="Usage is not available" />
    <section class="card" aria-labelledby="org-usage-h">
      <h2 id="org-usage-h">Requests, last 24 hours</h2>
      <RequestsChart buckets={total} title="Requests per hour by status class" />
      {note ? <p class="hint">{note}</p> : null}
      <UsageTable buckets={total} />
    </section>
    <table class="usage">
      <thead>
        <tr>
          <th scope="col">Key</th>
          <th scope="col">Status</th>
          {STATUS_CLASSES.map((cls) => (
            <th scope="col">{cls}</th>
          ))}
          <th scope="col">Total</th>
        </tr>
      </thead>
      <tbody>
        {rows.map(({ key, totals }) => (
          <tr>
            <td>
              <a href={`${keyBase(orgId, key.id)}`}>{key.name}</a> <span class="code muted">{maskedKey(key)}</span>
            </td>
            <td>
              <StatusBadge status={key.status} />
            </td>
            {STATUS_CLASSES.map((cls) => (
              <td>{totals ? (totals[cls] ?? 0) : "—"}</td>
            ))}
            <td>{totals ? STATUS_CLASSES.reduce((sum, cls) => sum + (totals[cls] ?? 0), 0) : "—"}</td>
          </tr>
        ))}
      </tbody>
    </table>
  </Layout>
);
