import type { FC } from "hono/jsx";
import type { ApiError } from "../api";
import { canChange, CsrfField, ErrorSummary, keyBase, Layout, Notice, type PageContext, When } from "../layout";
import { LatencyChart, RequestsChart, type UsageBucket, UsageTable } from "../usage_chart";
import { type ApiKey, maskedKey, RotateSoonBadge, StatusBadge, Value } from "./shared";

/** Fields shown in their own rows above; any other field the API adds is listed after them as it comes. */
const KNOWN = new Set(["id", "name", "identifier", "last4", "scopes", "status", "created_at", "expires_at", "last_used_at", "revoked_at", "rotated_from", "rotated_to", "rate_limit", "rate_limits", "quota", "meta", "key", "allowed_ips", "enabled", "disabled_at", "age_days"]);
const DATE_FIELD = /_at$/;

export const GRACE_PERIODS = [
  ["0s", "None: the old key stops working now"],
  ["1h", "1 hour"],
  ["24h", "24 hours"],
  ["7d", "7 days"],
] as const;

export interface LimitRow {
  name: string;
  text: string;
}

export const KeyDetailPage: FC<{
  page: PageContext;
  orgId: string;
  apiKey: ApiKey;
  buckets: UsageBucket[] | null;
  usageError?: ApiError | null;
  usageNote?: string | null;
  limits: LimitRow[];
  error?: ApiError | null;
  notice?: string | null;
  /** The allowed-IPs textarea as submitted, kept when the API refused it. */
  allowedIpsText?: string;
  /** config.rotationReminderAfterMs: a key this old gets a "rotate soon" badge; null: off. */
  rotationReminderAfterMs?: number | null;
}> = ({ page, orgId, apiKey: key, buckets, usageError, usageNote, limits, error, notice, allowedIpsText, rotationReminderAfterMs }) => {
  const base = keyBase(orgId, key.id);
  const extra = Object.entries(key).filter(([field]) => !KNOWN.has(field));
  // A disabled key can still be edited, re-enabled, rotated and revoked (a suspended leaked key is then revoked).
  const editable = canChange(page.session, key);
  const allowedIps = Array.isArray(key.allowed_ips) ? (key.allowed_ips as unknown[]).filter((ip): ip is string => typeof ip === "string") : [];
  return (
    <Layout title={`Key ${key.name}`} page={page}>
      <Notice text={notice} />
      <ErrorSummary error={error} />
      <section class="card" aria-labelledby="details-h">
        <h2 id="details-h">Details</h2>
        <dl class="fields">
          <dt>Id</dt>
          <dd class="code">{key.id}</dd>
          <dt>Key</dt>
          <dd class="code">{maskedKey(key)}</dd>
          <dt>Status</dt>
          <dd>
            <StatusBadge status={key.status} /> <RotateSoonBadge apiKey={key} reminderAfterMs={rotationReminderAfterMs} />
          </dd>
          <dt>Scopes</dt>
          <dd>
            <Value value={key.scopes} />
          </dd>
          <dt>Created</dt>
          <dd>
            <When value={key.created_at} />
          </dd>
          <dt>Last used</dt>
          <dd>
            <When value={key.last_used_at} empty="never" />
          </dd>
          <dt>Expires</dt>
          <dd>
            <When value={key.expires_at} empty="never" />
          </dd>
          {key.revoked_at ? (
            <>
              <dt>Revoked</dt>
              <dd>
                <When value={key.revoked_at} />
              </dd>
            </>
          ) : null}
          {key.rotated_from ? (
            <>
              <dt>Rotated from</dt>
              <dd>
                <a href={keyBase(orgId, key.rotated_from)}>{key.rotated_from}</a>
              </dd>
            </>
          ) : null}
          {key.rotated_to ? (
            <>
              <dt>Rotated to</dt>
              <dd>
                <a href={keyBase(orgId, key.rotated_to)}>{key.rotated_to}</a>
              </dd>
            </>
          ) : null}
          {key.disabled_at ? (
            <>
              <dt>Disabled</dt>
              <dd>
                <When value={key.disabled_at} />
              </dd>
            </>
          ) : null}
          {typeof key.age_days === "number" ? (
            <>
              <dt>Age</dt>
              <dd>{key.age_days === 1 ? "1 day" : `${key.age_days} days`}</dd>
            </>
          ) : null}
          <dt>Limit overrides</dt>
          <dd id="limit-overrides">{limitOverridesText(key) ?? <span class="muted">none: the tier's limits</span>}</dd>
          <dt>Allowed IPs</dt>
          <dd id="allowed-ips">{allowedIps.length === 0 ? <span class="muted">anywhere</span> : <span class="code">{allowedIps.join(", ")}</span>}</dd>
          <dt>Meta</dt>
          <dd>
            <Value value={key.meta} />
          </dd>
          {extra.map(([field, value]) => (
            <>
              <dt>{field.replace(/_/g, " ")}</dt>
              <dd>{DATE_FIELD.test(field) ? <When value={value} /> : <Value value={value} />}</dd>
            </>
          ))}
        </dl>
      </section>

      <section class="card" aria-labelledby="limits-h">
        <h2 id="limits-h">Limits</h2>
        {limits.length === 0 ? (
          <p class="muted">No limits are known for this key.</p>
        ) : (
          <dl class="fields">
            {limits.map((row) => (
              <>
                <dt>{row.name}</dt>
                <dd>{row.text}</dd>
              </>
            ))}
          </dl>
        )}
      </section>

      <section class="card" aria-labelledby="usage-h">
        <h2 id="usage-h">Usage, last 24 hours</h2>
        <ErrorSummary error={usageError} title="Usage is not available" />
        {buckets ? (
          <>
            <RequestsChart buckets={buckets} title="Requests per hour by status class" />
            <LatencyChart buckets={buckets} title="Latency per hour, p50 and p95 (ms)" />
            {usageNote ? <p class="hint">{usageNote}</p> : null}
            <UsageTable buckets={buckets} />
          </>
        ) : null}
      </section>

      {editable ? (
        <section class="card" aria-labelledby="restrict-h">
          <h2 id="restrict-h">Restrictions</h2>
          <form method="post" action={`${base}/allowed-ips`}>
            <CsrfField token={page.csrf} />
            <label for="allowed_ips">Allowed IPs (addresses or CIDR ranges, one per line; empty: anywhere)</label>
            <textarea id="allowed_ips" name="allowed_ips" rows={4} maxlength={4000} spellcheck={false}>
              {allowedIpsText ?? allowedIps.join("\n")}
            </textarea>
            <button type="submit">Save allowed IPs</button>
          </form>
          <form method="post" action={`${base}/enabled`}>
            <CsrfField token={page.csrf} />
            {key.status === "disabled" ? (
              <>
                <input type="hidden" name="enabled" value="true" />
                <p>This key is suspended: requests with it get 401 key_disabled until it is enabled again.</p>
                <button type="submit">Enable</button>
              </>
            ) : (
              <>
                <input type="hidden" name="enabled" value="false" />
                <p>Disabling suspends the key (401 key_disabled) without revoking it; it can be enabled again.</p>
                <button type="submit" class="danger">
                  Disable
                </button>
              </>
            )}
          </form>
        </section>
      ) : null}

      {editable ? (
        <section class="card" aria-labelledby="actions-h">
          <h2 id="actions-h">{key.rotated_to ? "Revoke" : "Rotate or revoke"}</h2>
          {key.rotated_to ? (
            // A key is rotated once (the API answers 409 to a second rotation): this one is in its grace period, and
            // revoking it ends that now. Its successor is the key to rotate next.
            <p id="rotated-note">
              This key was already rotated to <a href={keyBase(orgId, key.rotated_to)}>{key.rotated_to}</a>; it works until
              its grace period ends. Revoke it to end that now.
            </p>
          ) : (
            // No script confirm() here: the grace period chosen beside the button is the decision, and a dialog that
            // a browser or automation dismisses silently would leave the key unrotated with nothing said.
            <form method="post" action={`${base}/rotate`}>
              <CsrfField token={page.csrf} />
              <label for="grace_period">Grace period for the old key</label>
              <select id="grace_period" name="grace_period">
                {GRACE_PERIODS.map(([value, label]) => (
                  <option value={value}>{label}</option>
                ))}
              </select>
              <button type="submit">Rotate</button>
            </form>
          )}
          {/* Opens the confirmation page that names the key (a GET: nothing is revoked until that page's button). */}
          <form method="get" action={`${base}/revoke`}>
            <button type="submit" class="danger">
              Revoke
            </button>
          </form>
        </section>
      ) : null}
    </Layout>
  );
};

/** The key's own limits (`rate_limits`, `quota`) in words, or null when it has none and the tier's apply. */
function limitOverridesText(key: ApiKey): string | null {
  const windows = Array.isArray(key.rate_limits) ? (key.rate_limits as Array<Record<string, unknown>>) : [];
  const quota = key.quota && typeof key.quota === "object" ? (key.quota as Record<string, unknown>) : null;
  const parts = windows.map((w) => `${String(w.limit)} per ${String(w.window)}${w.name === "default" && windows.length === 1 ? "" : ` (${String(w.name)})`}`);
  if (quota) parts.push(`quota ${String(quota.limit)} per ${String(quota.period)}`);
  return parts.length > 0 ? parts.join(", ") : null;
}
