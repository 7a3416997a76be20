import type { FC } from "hono/jsx";
import type { ApiError } from "../api";
import { CONSOLE_PREFIX, CsrfField, ErrorSummary, Layout, Notice, orgBase, type PageContext, When } from "../layout";
import { type ApiOrg, Pager, type Pagination, queryString } from "./shared";

/** Which page of an org the list's links open (Keys by default): the operator came from that nav link with no org chosen. */
export type OrgSection = "keys" | "audit" | "usage";
const SECTION_NAMES: Record<OrgSection, string> = { keys: "keys", audit: "audit trail", usage: "usage" };

export const OrgsPage: FC<{ page: PageContext; orgs: ApiOrg[]; pagination?: Pagination; tiers: string[]; error?: ApiError | null; notice?: string | null; form?: { name?: string; tier?: string }; open?: OrgSection }> = ({
  page,
  orgs,
  pagination,
  tiers,
  error,
  notice,
  form = {},
  open,
}) => (
  <Layout title="Orgs" page={page}>
    <Notice text={notice} />
    {open ? <p class="hint">Choose an org to see its {SECTION_NAMES[open]}.</p> : null}
    <ErrorSummary error={error} />
    <section class="card" aria-labelledby="create-org-h">
      <h2 id="create-org-h">Create an org</h2>
      <form method="post" action={`${CONSOLE_PREFIX}/orgs`} class="inline">
        <CsrfField token={page.csrf} />
        <label for="org-name">Org name</label>
        <input id="org-name" name="name" type="text" required maxlength={100} value={form.name ?? ""} />
        <label for="org-tier">Tier</label>
        <select id="org-tier" name="tier">
          {tiers.map((t) => (
            <option value={t} selected={form.tier === t}>
              {t}
            </option>
          ))}
        </select>
        <button type="submit">Create org</button>
      </form>
    </section>
    {orgs.length === 0 ? (
      <p class="empty">No orgs yet.</p>
    ) : (
      <table class="orgs">
        <thead>
          <tr>
            <th scope="col">Name</th>
            <th scope="col">Id</th>
            <th scope="col">Max active keys</th>
            <th scope="col">Created</th>
            <th scope="col">Tier</th>
          </tr>
        </thead>
        <tbody>
          {orgs.map((org, i) => (
            <tr data-org-id={org.id}>
              <td>
                <a href={`${orgBase(org.id)}/${open ?? "keys"}`} aria-label={`Open ${org.name}`}>
                  {org.name}
                </a>
              </td>
              <td class="code">{org.id}</td>
              <td>{org.max_active_keys ?? "—"}</td>
              <td>
                <When value={org.created_at} />
              </td>
              <td>
                <form method="post" action={`${orgBase(org.id)}/tier`} class="inline">
                  <CsrfField token={page.csrf} />
                  {pagination && pagination.page > 1 ? <input type="hidden" name="page" value={String(pagination.page)} /> : null}
                  {/* Named by the org alone (the column says "Tier"): a name holding "Tier" made the create form's
                      "Tier" field ambiguous to a lookup by label once any org was listed. */}
                  <label for={`tier-${i}`} class="visually-hidden">
                    {org.name}
                  </label>
                  <select id={`tier-${i}`} name="tier">
                    {[...new Set([...tiers, org.tier])].map((t) => (
                      <option value={t} selected={org.tier === t}>
                        {t}
                      </option>
                    ))}
                  </select>
                  <button type="submit" class="secondary">
                    Change tier
                  </button>
                </form>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    )}
    <Pager pagination={pagination} href={(p) => `${CONSOLE_PREFIX}/orgs${queryString({ page: p, open })}`} />
  </Layout>
);
