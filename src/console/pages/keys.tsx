import type { FC } from "hono/jsx";
import { parseDuration } from "../../duration";
import type { ExpiryPolicy } from "../../hygiene/expiry_policy";
import { API_BASE, type ApiError } from "../api";
import { canWrite, CsrfField, ErrorSummary, keyBase, Layout, Notice, orgBase, type PageContext, When } from "../layout";
import { type ApiKey, maskedKey, Pager, type Pagination, queryString, RotateSoonBadge, StatusBadge, Value } from "./shared";

const STATUSES = ["active", "disabled", "expired", "revoked"] as const;

export const KeysPage: FC<{
  page: PageContext;
  orgId: string;
  keys: ApiKey[];
  pagination?: Pagination;
  status?: string;
  error?: ApiError | null;
  notice?: string | null;
  /** config.rotationReminderAfterMs: keys this old get a "rotate soon" badge; null: off. */
  rotationReminderAfterMs?: number | null;
}> = ({
  page,
  orgId,
  keys,
  pagination,
  status,
  error,
  notice,
  rotationReminderAfterMs,
}) => {
  const base = `${orgBase(orgId)}/keys`;
  return (
    <Layout title="Keys" page={page}>
      <Notice text={notice} />
      <ErrorSummary error={error} title="Could not list keys" />
      <div class="toolbar">
        <form method="get" action={base} class="inline">
          <label for="status">Status</label>
          <select id="status" name="status">
            <option value="" selected={!status}>
              All
            </option>
            {STATUSES.map((s) => (
              <option value={s} selected={status === s}>
                {s}
              </option>
            ))}
          </select>
          <button type="submit" class="secondary">
            Filter
          </button>
        </form>
        {canWrite(page.session) ? (
          // A button, as SPEC §11 names it ("Create key"), that opens the form: a GET form needs no script.
          <form method="get" action={`${base}/new`} class="inline">
            <button type="submit">Create key</button>
          </form>
        ) : null}
      </div>
      {keys.length === 0 && !error ? (
        pagination && pagination.total > 0 ? (
          // A page past the last (an old bookmark, a hand-edited URL): the keys exist, only not on this page.
          <p class="empty">
            No keys on page {pagination.page}; there {pagination.total === 1 ? "is 1 key" : `are ${pagination.total} keys`}
            {status ? ` with status ${status}` : ""} in all. <a href={base + queryString({ status })}>First page</a>
          </p>
        ) : (
          <p class="empty">No keys{status ? ` with status ${status}` : ""} yet.</p>
        )
      ) : (
        <table class="keys">
          <caption class="visually-hidden">Keys of org {orgId}</caption>
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Key</th>
              <th scope="col">Scopes</th>
              <th scope="col">Status</th>
              <th scope="col">Created</th>
              <th scope="col">Last used</th>
              <th scope="col">Expires</th>
            </tr>
          </thead>
          <tbody>
            {keys.map((key) => (
              <tr data-key-id={key.id}>
                <td>
                  <a href={`${base}/${encodeURIComponent(key.id)}`}>{key.name}</a>
                </td>
                <td class="code">{maskedKey(key)}</td>
                <td>
                  <Value value={key.scopes} />
                </td>
                <td>
                  <StatusBadge status={key.status} /> <RotateSoonBadge apiKey={key} reminderAfterMs={rotationReminderAfterMs} />
                </td>
                <td>
                  <When value={key.created_at} />
                </td>
                <td>
                  <When value={key.last_used_at} empty="never" />
                </td>
                <td>
                  <When value={key.expires_at} empty="never" />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <Pager pagination={pagination} href={(p) => base + queryString({ status, page: p })} />
    </Layout>
  );
};

export interface CreateKeyForm {
  name?: string;
  scopes?: string[];
  expiry?: string;
  expires_at_date?: string;
  limit?: string;
  window?: string;
  /** One address or CIDR range per line. */
  allowed_ips?: string;
  /** Random per rendered form: a second POST of the same form (a reload of the page showing the key) creates nothing. */
  submission?: string;
}

const EXPIRY_PRESETS = [
  ["30d", "30 days"],
  ["90d", "90 days"],
  ["1y", "1 year"],
  ["never", "Never"],
  ["custom", "Custom date"],
] as const;

/** The presets the expiry policy allows: no "never" when an expiry is required, none longer than MAX_KEY_LIFETIME. */
export function expiryPresets(policy: ExpiryPolicy | undefined): (typeof EXPIRY_PRESETS)[number][] {
  if (!policy) return [...EXPIRY_PRESETS];
  const required = policy.required || policy.maxLifetimeMs !== null;
  return EXPIRY_PRESETS.filter(([value]) => {
    if (value === "custom") return true;
    if (value === "never") return !required;
    return policy.maxLifetimeMs === null || parseDuration(value)! <= policy.maxLifetimeMs;
  });
}

/** 90 days where the policy allows it, else the longest preset it allows, else a date. */
export function defaultExpiry(policy: ExpiryPolicy | undefined): string {
  const offered = expiryPresets(policy).map(([value]) => value as string);
  if (offered.includes("90d")) return "90d";
  return offered.filter((value) => value !== "never" && value !== "custom").at(-1) ?? "custom";
}

const isoDate = (ms: number) => new Date(ms).toISOString().slice(0, 10);

export const CreateKeyPage: FC<{
  page: PageContext;
  orgId: string;
  catalogue: Record<string, string>;
  form: CreateKeyForm;
  error?: ApiError | null;
  tierLimits?: string | null;
  /** config.expiryPolicy: which presets are offered. */
  expiryPolicy?: ExpiryPolicy;
}> = ({ page, orgId, catalogue, form, error, tierLimits, expiryPolicy }) => {
  const expiry = form.expiry ?? defaultExpiry(expiryPolicy);
  const presets = expiryPresets(expiryPolicy);
  const maxDate = expiryPolicy?.maxLifetimeMs ? isoDate(Date.now() + expiryPolicy.maxLifetimeMs) : undefined;
  return (
    <Layout title="Create key" page={page}>
      <ErrorSummary error={error} title="The key was not created" />
      <form method="post" action={`${orgBase(orgId)}/keys`} class="card">
        <CsrfField token={page.csrf} />
        {form.submission ? <input type="hidden" name="submission" value={form.submission} /> : null}
        <label for="name">Name</label>
        <input id="name" name="name" type="text" required maxlength={100} value={form.name ?? ""} placeholder="CI pipeline" />
        <fieldset>
          <legend>Scopes</legend>
          {Object.entries(catalogue).map(([scope, description], i) => (
            <div class="check">
              <input type="checkbox" id={`scope-${i}`} name="scopes" value={scope} checked={form.scopes?.includes(scope)} aria-describedby={`scope-${i}-desc`} />
              <label for={`scope-${i}`}>
                <span class="code">{scope}</span>
              </label>
              <span class="hint" id={`scope-${i}-desc`}>
                {description}
              </span>
            </div>
          ))}
        </fieldset>
        <fieldset>
          <legend>Expires</legend>
          {maxDate ? <p class="hint">This gateway requires keys to expire by {maxDate} at the latest.</p> : expiryPolicy?.required ? <p class="hint">This gateway requires keys to expire.</p> : null}
          {presets.map(([value, label]) => (
            <div class="check">
              <input type="radio" id={`expiry-${value}`} name="expiry" value={value} checked={expiry === value} />
              <label for={`expiry-${value}`}>{label}</label>
            </div>
          ))}
          <label for="expires_at_date">Expiry date</label>
          <input id="expires_at_date" name="expires_at_date" type="date" max={maxDate} value={form.expires_at_date ?? ""} aria-describedby="expires_at_date-hint" />
          <p class="hint" id="expires_at_date-hint">
            For "Custom date": the key works until the end of that day (UTC).
          </p>
        </fieldset>
        <fieldset>
          <legend>Rate limit (optional)</legend>
          <p class="hint">Leave empty to use the org's tier{tierLimits ? `: ${tierLimits}` : ""}. A key cannot be given more than its tier allows.</p>
          <div class="row">
            <div>
              <label for="limit">Requests</label>
              <input id="limit" name="limit" type="number" min={1} max={1000000000} value={form.limit ?? ""} />
            </div>
            <div>
              <label for="window">Per window</label>
              <input id="window" name="window" type="text" maxlength={10} placeholder="60s" value={form.window ?? ""} />
            </div>
          </div>
        </fieldset>
        <fieldset>
          <legend>Allowed IPs (optional)</legend>
          <label for="allowed_ips">Addresses or CIDR ranges the key may be used from, one per line; empty: anywhere</label>
          <textarea id="allowed_ips" name="allowed_ips" rows={3} maxlength={4000} spellcheck={false} placeholder="203.0.113.0/24">
            {form.allowed_ips ?? ""}
          </textarea>
        </fieldset>
        <button type="submit">Create key</button>
      </form>
    </Layout>
  );
};

/**
 * Where a key's holder reads how to keep it: README.md "For the people who receive keys" (#for-the-people-who-receive-keys),
 * which the API reference served by this gateway repeats in its introduction (Scalar anchors a heading as #description/<slug>).
 */
export const KEY_HOLDER_GUIDANCE = `${API_BASE}/docs#description/for-the-people-who-receive-keys`;

/** The one time the full key is on a page. Served with Cache-Control: no-store and never put in a URL. */
export const RevealPage: FC<{ page: PageContext; orgId: string; apiKey: ApiKey & { key: string }; rotatedFrom?: string }> = ({ page, orgId, apiKey: key, rotatedFrom }) => (
  <Layout title={rotatedFrom ? "Key rotated" : "Key created"} page={page}>
    <div class="alert warn" role="alert">
      <strong>You will not see this key again.</strong> Copy it now and store it somewhere safe; keygate keeps only its hash.
    </div>
    <div class="card">
      <p>
        {rotatedFrom ? (
          <>
            The new key for <strong>{key.name}</strong> replaces {rotatedFrom}.
          </>
        ) : (
          <>
            Key <strong>{key.name}</strong> ({key.id}) was created.
          </>
        )}
      </p>
      <label for="new-key">Your new API key</label>
      <div class="copyrow">
        <input id="new-key" type="text" readonly value={key.key} class="code secret" spellcheck={false} autocomplete="off" />
        <button type="button" data-copy="new-key">
          Copy
        </button>
      </div>
      <p class="hint" role="status" aria-live="polite" id="copy-status"></p>
      <p id="key-guidance">
        Give whoever uses this key <a href={KEY_HOLDER_GUIDANCE}>the guidance for the people who receive keys</a> (README: "For the people who receive keys"): keep it in a secrets
        manager or an environment variable, never commit it, one key per integration, rotate it with a grace period.
      </p>
      <a class="button secondary" href={`${keyBase(orgId, key.id)}`}>
        I have stored it
      </a>
    </div>
  </Layout>
);

export const RevokePage: FC<{ page: PageContext; orgId: string; apiKey: ApiKey; error?: ApiError | null }> = ({ page, orgId, apiKey: key, error }) => (
  <Layout title="Revoke key" page={page}>
    <ErrorSummary error={error} title="The key was not revoked" />
    <form method="post" action={`${keyBase(orgId, key.id)}/revoke`} class="card narrow">
      <CsrfField token={page.csrf} />
      <p>
        Revoke <strong>{key.name}</strong> (<span class="code">{maskedKey(key)}</span>)? Every request with it is refused from now on. This cannot be undone.
      </p>
      <div class="actions">
        <button type="submit" class="danger">
          Revoke
        </button>
        <a href={`${keyBase(orgId, key.id)}`}>Cancel</a>
      </div>
    </form>
  </Layout>
);
