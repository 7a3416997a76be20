import type { Child, FC } from "hono/jsx";
import { grantsScope } from "../auth/scopes";
import type { ApiError } from "./api";
import type { Session } from "./session";

export const CONSOLE_PREFIX = "/_keygate/console";
export const ASSET_VERSION = "3";

/** What every page knows about the request: who is signed in, the form token, the org in view. */
export interface PageContext {
  session: Session | null;
  csrf: string;
  /** The org whose keys/audit/usage are in view (from the URL). */
  orgId?: string;
  /** Which nav link is the current page. */
  current?: "keys" | "audit" | "usage" | "orgs";
}

export const orgBase = (orgId: string) => `${CONSOLE_PREFIX}/orgs/${encodeURIComponent(orgId)}`;
/** A key's page; its actions (rotate, revoke, …) are paths under it. */
export const keyBase = (orgId: string, keyId: string) => `${orgBase(orgId)}/keys/${encodeURIComponent(keyId)}`;

/** An org key without keys:write (or admin, or a wildcard over it) gets the read-only view: the API's own scope check. */
export function canWrite(session: Session | null): boolean {
  if (!session) return false;
  if (session.kind === "operator") return true;
  const scopes = session.scopes ?? [];
  return grantsScope(scopes, "keys:write");
}

/**
 * Whether this session may change this key (rotate, revoke, disable, restrict): write scope, a key not yet final
 * (revoked and expired keys are), and, for an org key, every scope of the target held by the signed-in key (the
 * API refuses the rest, SPEC §9).
 */
export function canChange(session: Session | null, key: { status?: unknown; scopes?: unknown }): boolean {
  if (!canWrite(session) || (key.status !== "active" && key.status !== "disabled")) return false;
  if (session!.kind === "operator") return true;
  const targetScopes = Array.isArray(key.scopes) ? key.scopes.filter((scope): scope is string => typeof scope === "string") : [];
  return targetScopes.every((scope) => grantsScope(session!.scopes ?? [], scope));
}

export function canReadAudit(session: Session | null): boolean {
  if (!session) return false;
  if (session.kind === "operator") return true;
  const scopes = session.scopes ?? [];
  return grantsScope(scopes, "audit:read");
}

/** `2026-12-04 16:45 UTC` in a <time>, or a dash. Anything that is not a date is shown as given. */
export const When: FC<{ value: unknown; empty?: string }> = ({ value, empty = "—" }) => {
  if (typeof value !== "string" || value === "") return <span class="muted">{empty}</span>;
  const ms = Date.parse(value);
  if (Number.isNaN(ms)) return <span>{value}</span>;
  const text = new Date(ms).toISOString().slice(0, 16).replace("T", " ") + " UTC";
  return <time datetime={new Date(ms).toISOString()}>{text}</time>;
};

export const CsrfField: FC<{ token: string }> = ({ token }) => <input type="hidden" name="_csrf" value={token} />;

/** The API's error envelope as the page shows it: code, message and each field's problem. */
export const ErrorSummary: FC<{ error?: ApiError | null; title?: string }> = ({ error, title = "That did not work" }) => {
  if (!error) return null;
  return (
    <div class="alert error" role="alert">
      <p>
        <strong>{title}:</strong> {error.message} <span class="code">({error.code})</span>
      </p>
      {error.details && error.details.length > 0 ? (
        <ul>
          {error.details.map((d) => (
            <li>
              <span class="code">{d.field}</span>: {d.message}
            </li>
          ))}
        </ul>
      ) : null}
    </div>
  );
};

export const Notice: FC<{ text?: string | null }> = ({ text }) =>
  text ? (
    <div class="alert ok" role="status">
      {text}
    </div>
  ) : null;

const Nav: FC<{ page: PageContext }> = ({ page }) => {
  const { session, orgId, current } = page;
  if (!session) return null;
  const link = (href: string, name: string, id: PageContext["current"]) => (
    <li>
      <a href={href} aria-current={current === id ? "page" : undefined}>
        {name}
      </a>
    </li>
  );
  const org = orgId ?? session.orgId;
  // The operator outside any org (the Orgs page) still has Keys, Audit and Usage: each asks which org first.
  const section = (name: string, id: "keys" | "audit" | "usage") =>
    org ? link(`${orgBase(org)}/${id}`, name, id) : link(`${CONSOLE_PREFIX}/orgs?open=${id}`, name, id);
  return (
    <nav aria-label="Console">
      <ul>
        {session.kind === "operator" ? link(`${CONSOLE_PREFIX}/orgs`, "Orgs", "orgs") : null}
        {section("Keys", "keys")}
        {section("Audit", "audit")}
        {section("Usage", "usage")}
      </ul>
    </nav>
  );
};

function whoText(session: Session): string {
  if (session.kind === "operator") return "Signed in as the operator";
  return `Signed in with key ${session.keyId ?? ""}${canWrite(session) ? "" : " (read-only)"}`;
}

export const Layout: FC<{ title: string; page: PageContext; children?: Child }> = ({ title, page, children }) => (
  <html lang="en">
    <head>
      <meta charset="utf-8" />
      <meta name="viewport" content="width=device-width, initial-scale=1" />
      <meta name="referrer" content="no-referrer" />
      <title>{`${title} · keygate console`}</title>
      <link rel="stylesheet" href={`${CONSOLE_PREFIX}/assets/console.css?v=${ASSET_VERSION}`} />
      <script src={`${CONSOLE_PREFIX}/assets/console.js?v=${ASSET_VERSION}`} defer></script>
    </head>
    <body>
      <a class="skip" href="#main">
        Skip to content
      </a>
      <header class="top">
        <div class="brand">
          <a href={CONSOLE_PREFIX}>keygate console</a>
          {page.orgId ? <span class="org">org {page.orgId}</span> : null}
        </div>
        <Nav page={page} />
        {page.session ? (
          <form method="post" action={`${CONSOLE_PREFIX}/sign-out`} class="signout">
            <span class="who">{whoText(page.session)}</span>
            <CsrfField token={page.csrf} />
            <button type="submit" class="secondary">
              Sign out
            </button>
          </form>
        ) : null}
      </header>
      <main id="main">
        <h1>{title}</h1>
        {children}
      </main>
    </body>
  </html>
);
