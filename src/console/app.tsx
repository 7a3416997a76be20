import { type Context, Hono } from "hono";
import { accepts } from "hono/accepts";
import { bodyLimit } from "hono/body-limit";
import { deleteCookie, getCookie, setCookie } from "hono/cookie";
import { html } from "hono/html";
import type { JSX } from "hono/jsx/jsx-runtime";
import { secureHeaders } from "hono/secure-headers";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import { grantsScope, insufficientScope } from "../auth/scopes";
import { type Config, loadConfig } from "../config";
import type { Env } from "../env";
import { KeygateError, logMisconfigured, renderError } from "../errors";
import { tooLarge } from "../management/body";
import { clip, withoutKeys } from "../management/validation";
import { AUDIT_ACTIONS } from "../store/audit";
import { type ApiCall, type ApiError, type ApiResult, callApi } from "./api";
import { CONSOLE_CSS, CONSOLE_JS } from "./assets";
import { liveLimitRows, tierLimitText } from "./limits";
import { canChange, canReadAudit, canWrite, CONSOLE_PREFIX, keyBase, orgBase, type PageContext } from "./layout";
import { type AuditEvent, AuditPage, type AuditFilters } from "./pages/audit";
import { ErrorPage } from "./pages/error";
import { GRACE_PERIODS, KeyDetailPage, type LimitRow } from "./pages/key_detail";
import { CreateKeyPage, type CreateKeyForm, defaultExpiry, KeysPage, RevealPage, RevokePage } from "./pages/keys";
import { OrgsPage } from "./pages/orgs";
import type { ApiKey, ApiOrg } from "./pages/shared";
import { SignInPage } from "./pages/signin";
import { type KeyUsageRow, UsagePage } from "./pages/usage";
import { csrfToken, openSession, PRESESSION_COOKIE, randomToken, sealSession, type Session, SESSION_COOKIE, type SessionKeys, sessionKeys, validCsrfToken } from "./session";
import { CHART_HOURS, classTotals, HOUR_MS, sumBuckets, type UsageBucket, usageBuckets } from "./usage_chart";

interface ConsoleEnv {
  Bindings: Env;
  Variables: { config: Config; keys: SessionKeys; session: Session | null; csrf: string };
}
type ConsoleContext = Context<ConsoleEnv>;

const ID = /^[A-Za-z0-9_-]{1,64}$/;
const FORM_MAX_BYTES = 64 * 1024;
/** Fixed texts for the redirects' `?notice=`: the URL names an outcome, never carries text or a secret. */
const NOTICES: Record<string, string> = {
  revoked: "The key was revoked. Requests with it are refused from now on.",
  "ips-saved": "The key's allowed IPs were saved; they apply from its next request.",
  disabled: "The key was disabled. Requests with it are refused until it is enabled again.",
  enabled: "The key was enabled again.",
  "tier-changed": "The org's tier was changed; its keys use the new limits on their next request.",
  "org-created": "The org was created.",
  "already-created": "That form was already sent and its key created; a key is shown only once, so it is not shown again. Use Create key for another one.",
  "signed-out": "You are signed out.",
  expired: "Your session ended. Sign in again.",
  "scopes-changed": "The key you signed in with no longer holds admin or keys:read, so it may not use the console.",
};

/**
 * The session cookie is self-contained (sealed, not looked up), so deleting it in this browser alone would leave a
 * copy taken earlier (a shared machine, a proxy log, an exported profile) working until it expires. Signing out
 * therefore records the session id in KV until the cookie's own expiry, and the session middleware refuses it.
 * Visible at once at this location; elsewhere within KV's propagation delay (about 60 s, README "Key lookup").
 */
const signedOutKey = (sid: string) => `console:signed-out:${sid}`;
// KV refuses an expirationTtl under 60 s.
const KV_MIN_TTL_SECONDS = 60;

// strict: false, so /_keygate/console/ (as people type it) is the same page as /_keygate/console.
export const consoleApp = new Hono<ConsoleEnv>({ strict: false }).basePath(CONSOLE_PREFIX);

consoleApp.use(
  "*",
  secureHeaders({
    contentSecurityPolicy: { defaultSrc: ["'self'"], baseUri: ["'none'"], formAction: ["'self'"], frameAncestors: ["'none'"], objectSrc: ["'none'"] },
    referrerPolicy: "no-referrer",
    crossOriginResourcePolicy: "same-origin",
  }),
);

consoleApp.get("/assets/console.css", (c) => c.body(CONSOLE_CSS, 200, { "content-type": "text/css; charset=utf-8", "cache-control": "public, max-age=3600" }));
consoleApp.get("/assets/console.js", (c) => c.body(CONSOLE_JS, 200, { "content-type": "text/javascript; charset=utf-8", "cache-control": "public, max-age=3600" }));

// A GET form with no fields (the Create key and Revoke buttons) sends the browser to `…/new?`: the same page, said
// with a clean address, so the location bar, history and bookmarks read as the link would.
consoleApp.get("*", async (c, next) => {
  const url = new URL(c.req.url);
  // Only an empty query (`…?`): a query that merely ends in "?" (`?key_id=abc?`) is kept and answered as it is.
  if (!c.req.url.endsWith("?") || url.search !== "") return next();
  return c.redirect(url.pathname, 303);
});

// Pages are per-user and some carry a key once: nothing is cached anywhere.
consoleApp.use("*", async (c, next) => {
  await next();
  if (!c.res.headers.has("cache-control")) c.header("Cache-Control", "no-store");
});

/** Config, the session keys, the session from the cookie, and the CSRF token for this page's forms. */
consoleApp.use("*", async (c, next) => {
  let config: Config;
  try {
    config = loadConfig(c.env);
  } catch (err) {
    // gateway_misconfigured: the bad field goes to the operator's log (logMisconfigured), never to the client.
    return consoleError(c, err instanceof KeygateError ? err : unhandled(c, err));
  }
  c.set("config", config);
  if (!config.console.sessionSecret) {
    const page: PageContext = { session: null, csrf: "" };
    return render(c, <SignInPage page={page} disabled="The console is disabled: set ADMIN_TOKEN or CONSOLE_SESSION_SECRET (a secret) to sign in." />, 503);
  }
  const keys = await sessionKeys(config.console.sessionSecret);
  c.set("keys", keys);
  const now = Date.now();
  let session = await openSession(keys, getCookie(c, SESSION_COOKIE), now);
  // The lifetime is the shorter of the one sealed at sign-in and today's CONSOLE_SESSION_TTL: an operator who
  // shortens it (after a scare) shortens the sessions already out there, not only the next ones.
  if (session && typeof session.issuedAt === "number" && session.issuedAt + config.console.sessionTtlMs <= now) session = null;
  if (session && (await c.env.KEY_CACHE.get(signedOutKey(session.sid)))) session = null;
  c.set("session", session);
  let sid = session?.sid;
  if (!sid) {
    sid = getCookie(c, PRESESSION_COOKIE);
    if (!sid || !ID.test(sid)) {
      sid = randomToken();
      setCookie(c, PRESESSION_COOKIE, sid, cookieOptions(c, 3600));
    }
  }
  c.set("csrf", await csrfToken(keys, sid));
  await next();
});

function cookieOptions(c: ConsoleContext, maxAgeSeconds: number) {
  return { path: CONSOLE_PREFIX, httpOnly: true, sameSite: "Strict" as const, secure: new URL(c.req.url).protocol === "https:", maxAge: maxAgeSeconds };
}

/** Every POST carries the form's CSRF token, bound to the session (or, before sign-in, to the pre-session cookie). */
consoleApp.post("*", bodyLimit({ maxSize: FORM_MAX_BYTES, onError: (c) => consoleError(c, tooLarge(FORM_MAX_BYTES)) }), async (c, next) => {
  const type = c.req.header("content-type") ?? "";
  if (!type.startsWith("application/x-www-form-urlencoded") && !type.startsWith("multipart/form-data")) return forbidden(c);
  let form: Record<string, unknown>;
  try {
    form = await c.req.parseBody({ all: true });
  } catch {
    // A body its content type does not describe (multipart without or with a broken boundary, a charset the
    // runtime cannot decode) is the sender's mistake: 400, never the 500 the parser's exception became.
    return render(c, <SignInPage page={pageOf(c)} message="The form could not be read. Go back, reload the page and send it from there." />, 400);
  }
  const sid = c.get("session")?.sid ?? getCookie(c, PRESESSION_COOKIE);
  if (!sid || !(await validCsrfToken(c.get("keys"), sid, form._csrf))) return forbidden(c);
  await next();
});

function forbidden(c: ConsoleContext) {
  return render(c, 
    <SignInPage page={pageOf(c)} message="The form could not be checked (it expired, or it was not sent from this console). Go back, reload the page and try again." />,
    403,
  );
}

/** Every page as a standards-mode HTML document (JSX alone renders no doctype). */
function render(c: ConsoleContext, body: JSX.Element, status: ContentfulStatusCode = 200) {
  return c.html(html`<!doctype html>${body}`, status);
}

function pageOf(c: ConsoleContext, extra: Partial<PageContext> = {}): PageContext {
  return { session: c.get("session"), csrf: c.get("csrf"), ...extra };
}

const formText = (value: unknown): string => (typeof value === "string" ? value.trim() : "");
const formList = (value: unknown): string[] => (Array.isArray(value) ? value : value === undefined ? [] : [value]).filter((v): v is string => typeof v === "string");
/** A textarea's lines (or commas) as a list; empty lines dropped. The API validates and normalises the entries. */
const ipList = (text: string): string[] => text.split(/[\s,]+/).filter((entry) => entry !== "");

/**
 * The page's status when the API refused: the API's own (400, 403, 404, 409, 413, 429, ...), so a refused
 * action or a filter the API cannot use never looks like a success (200) to a browser, a script or a monitor.
 */
const refusalStatus = (status: number): ContentfulStatusCode => (status >= 400 && status <= 599 ? (status as ContentfulStatusCode) : 500);

/** `?page=` as a page number; anything that is not one (missing, "abc", "-1") is the first page. Too large: the API says so. */
const pageNumber = (text: string | undefined): number => {
  const n = Number(text);
  return Number.isSafeInteger(n) && n >= 1 ? n : 1;
};

const noticeOf = (c: ConsoleContext) => NOTICES[c.req.query("notice") ?? ""] ?? null;

// ---- sign in and out ----

/** The API's GET /whoami: who a credential is, as the API authenticates it. */
type WhoAmI = { kind: "operator" | "key"; org_id: string | null; key_id: string | null; scopes: string[] | null };

consoleApp.get("/", (c) => {
  const session = c.get("session");
  if (!session) return c.redirect(`${CONSOLE_PREFIX}/sign-in`, 303);
  return c.redirect(session.kind === "operator" ? `${CONSOLE_PREFIX}/orgs` : `${orgBase(session.orgId!)}/keys`, 303);
});

consoleApp.get("/sign-in", (c) => {
  if (c.get("session")) return c.redirect(CONSOLE_PREFIX, 303);
  return render(c, <SignInPage page={pageOf(c)} notice={noticeOf(c)} />);
});

consoleApp.post("/sign-in", async (c) => {
  const form = await c.req.parseBody();
  const credential = formText(form.credential);
  const fail = (message: string, status: 400 | 401 | 403 | 429 = 401) => render(c, <SignInPage page={pageOf(c)} message={message} />, status);
  if (credential === "" || credential.length > 512) return fail("Enter the operator token or an API key.", 400);
  // Tokens and keys are visible ASCII (config.ts refuses any other ADMIN_TOKEN). Anything else cannot go in the
  // Authorization header the API call below builds: Headers() threw on a pasted line break and the page was a 500.
  if (!/^[\x21-\x7e]+$/.test(credential)) return fail("That is not a token or key: they are letters, digits and punctuation, without spaces or line breaks.", 400);

  // Sign-in is the API's own authentication (GET /whoami): a wrong token counts as a failed authentication of this address.
  const who = await callApi<WhoAmI>(c, credential, { path: "/whoami" });
  if (!who.ok) {
    if (who.status === 429) {
      if (who.retryAfter) c.header("Retry-After", who.retryAfter);
      return fail(`Too many attempts: ${who.error.message}`, 429);
    }
    return fail(`That token or key was not accepted: ${who.error.message} (${who.error.code}).`);
  }
  const scopes = who.data.scopes ?? [];
  if (who.data.kind === "key" && !grantsScope(scopes, "keys:read")) {
    return fail("This key may not use the console: it needs the admin scope, or keys:read for a read-only view.", 403);
  }
  const ttl = c.get("config").console.sessionTtlMs;
  // Signing in again over a session (another credential, say) ends the one it replaces, as signing out would.
  const replaced = c.get("session");
  if (replaced) await recordSignOut(c, replaced);
  const session: Session = {
    credential,
    sid: randomToken(),
    expiresAt: Date.now() + ttl,
    issuedAt: Date.now(),
    kind: who.data.kind,
    ...(who.data.kind === "key" ? { orgId: who.data.org_id!, keyId: who.data.key_id!, scopes } : {}),
  };
  setCookie(c, SESSION_COOKIE, await sealSession(c.get("keys"), session), cookieOptions(c, Math.floor(ttl / 1000)));
  deleteCookie(c, PRESESSION_COOKIE, { path: CONSOLE_PREFIX });
  return c.redirect(CONSOLE_PREFIX, 303);
});

async function recordSignOut(c: ConsoleContext, session: Session): Promise<void> {
  const remaining = Math.ceil((session.expiresAt - Date.now()) / 1000);
  try {
    await c.env.KEY_CACHE.put(signedOutKey(session.sid), "1", { expirationTtl: Math.max(KV_MIN_TTL_SECONDS, remaining) });
  } catch (err) {
    // The cookie is still cleared or replaced: a KV hiccup must not leave the person signed in in this browser.
    console.error("keygate console: could not record a sign-out", err instanceof Error ? err.message : "unknown");
  }
}

consoleApp.post("/sign-out", async (c) => {
  const session = c.get("session");
  if (session) await recordSignOut(c, session);
  deleteCookie(c, SESSION_COOKIE, { path: CONSOLE_PREFIX });
  return c.redirect(`${CONSOLE_PREFIX}/sign-in?notice=signed-out`, 303);
});

// ---- everything below needs a session ----

consoleApp.use("*", async (c, next) => {
  const session = c.get("session");
  if (!session) return c.redirect(`${CONSOLE_PREFIX}/sign-in`, 303);
  if (session.kind === "key") {
    // A key's scopes can change after sign-in (PATCH by the operator or an admin key): the page's controls follow
    // the key as it is now, not as the cookie remembers it, and a key that lost keys:read loses the console.
    const who = await api<WhoAmI>(c, { path: "/whoami" });
    const scopes = who.ok ? (who.data.scopes ?? []) : (session.scopes ?? []);
    if (!grantsScope(scopes, "keys:read")) throw new SessionEnded("scopes-changed");
    c.set("session", { ...session, scopes });
  }
  await next();
});

/** The session cannot go on: the credential stopped working (expired), or a key lost the console's scopes. */
class SessionEnded extends Error {
  constructor(readonly notice: "expired" | "scopes-changed" = "expired") {
    super(notice);
  }
}

/** The API with the session's credential. A 401 means the credential stopped working (revoked, expired): the session ends. */
async function api<T>(c: ConsoleContext, call: ApiCall): Promise<ApiResult<T>> {
  const result = await callApi<T>(c, c.get("session")!.credential, call);
  if (!result.ok && result.status === 401) throw new SessionEnded();
  // The page answers with the API's status (refusalStatus); a 429 also says when to come back, as the API does.
  if (!result.ok && result.status === 429 && result.retryAfter) c.header("Retry-After", result.retryAfter);
  return result;
}

consoleApp.onError((err, c) => {
  if (err instanceof SessionEnded) {
    deleteCookie(c, SESSION_COOKIE, { path: CONSOLE_PREFIX });
    return c.redirect(`${CONSOLE_PREFIX}/sign-in?notice=${err.notice}`, 303);
  }
  return consoleError(c, unhandled(c, err));
});

/**
 * An exception nothing expected: logged for the operator, answered as `internal_error` alone (its message may quote
 * anything, so it is never echoed). The log line is cleared of key/token material first: a key-shaped run in the
 * message or path is cut to its identifier, and the operator token or the session's credential (Headers() quotes an
 * invalid header value whole, a bearer token included) is replaced.
 */
function unhandled(c: ConsoleContext, err: unknown): KeygateError {
  const secrets = [c.env.ADMIN_TOKEN, c.get("session")?.credential].filter((s): s is string => typeof s === "string" && s !== "");
  const scrub = (text: string) => secrets.reduce((out, secret) => out.replaceAll(secret, "[credential]"), withoutKeys(text));
  console.error("keygate console: unhandled error", err instanceof Error ? scrub(`${err.name}: ${err.message}`) : "unknown", c.req.method, clip(scrub(c.req.path), 200));
  return new KeygateError("internal_error", "internal error");
}

/**
 * Every console error answer: a browser (its Accept prefers text/html) gets a page in the console's look with the
 * error's status; any other client (curl's default Accept, application/json, none at all) gets SPEC's JSON error
 * envelope through renderError, with the code the management API answers the same situation with.
 */
function consoleError(c: ConsoleContext, error: KeygateError): Response | Promise<Response> {
  const wantsPage = accepts(c, { header: "Accept", supports: ["application/json", "text/html"], default: "application/json" }) === "text/html";
  if (!wantsPage) return renderError(error, c);
  if (error.code === "gateway_misconfigured") logMisconfigured(error);
  // The config or session may be missing (the error came before the middleware set them): no nav, no sign-out form.
  return render(c, <ErrorPage page={{ session: c.get("session") ?? null, csrf: c.get("csrf") ?? "" }} code={error.code} />, error.status);
}

function orgParam(c: ConsoleContext): string | null {
  const orgId = c.req.param("org") ?? "";
  return ID.test(orgId) ? orgId : null;
}

/** An id that cannot be one (never sent to the API) is a page that does not exist. */
function notFound(c: ConsoleContext, what: string) {
  return consoleError(c, new KeygateError("not_found", `${what} not found`));
}

// ---- orgs (operator) ----

consoleApp.get("/orgs", async (c) => {
  if (c.get("session")!.kind !== "operator") return c.redirect(CONSOLE_PREFIX, 303);
  const page = pageNumber(c.req.query("page"));
  const result = await api<ApiOrg[]>(c, { path: "/orgs", query: { page, per_page: 50 } });
  const tiers = Object.keys(c.get("config").tiers);
  if (!result.ok) return render(c, <OrgsPage page={pageOf(c, { current: "orgs" })} orgs={[]} tiers={tiers} error={result.error} />, refusalStatus(result.status));
  const open = (["keys", "audit", "usage"] as const).find((section) => section === c.req.query("open"));
  return render(c, <OrgsPage page={pageOf(c, { current: "orgs" })} orgs={result.data} pagination={result.pagination} tiers={tiers} notice={noticeOf(c)} open={open} />);
});

consoleApp.post("/orgs", async (c) => {
  const form = await c.req.parseBody();
  const body = { name: formText(form.name), tier: formText(form.tier) };
  const result = await api<ApiOrg>(c, { method: "POST", path: "/orgs", body });
  if (result.ok) return c.redirect(`${CONSOLE_PREFIX}/orgs?notice=org-created`, 303);
  const list = await api<ApiOrg[]>(c, { path: "/orgs", query: { per_page: 50 } });
  return render(c, 
    <OrgsPage page={pageOf(c, { current: "orgs" })} orgs={list.ok ? list.data : []} pagination={list.ok ? list.pagination : undefined} tiers={Object.keys(c.get("config").tiers)} error={result.error} form={body} />,
    refusalStatus(result.status),
  );
});

consoleApp.post("/orgs/:org/tier", async (c) => {
  const orgId = orgParam(c);
  if (!orgId) return notFound(c, "org");
  const form = await c.req.parseBody();
  // Where the API versions orgs (ETag), the change is made against the version just read, like any careful client.
  const current = await api<ApiOrg>(c, { path: `/orgs/${orgId}` });
  const ifMatch: Record<string, string> = current.ok && current.etag ? { "if-match": current.etag } : {};
  const result = await api<ApiOrg>(c, { method: "PATCH", path: `/orgs/${orgId}`, body: { tier: formText(form.tier) }, headers: ifMatch });
  // Back to the page of the list the change was made on, not the first one.
  const listPage = pageNumber(formText(form.page));
  if (result.ok) return c.redirect(`${CONSOLE_PREFIX}/orgs?${listPage > 1 ? `page=${listPage}&` : ""}notice=tier-changed`, 303);
  const list = await api<ApiOrg[]>(c, { path: "/orgs", query: { page: listPage, per_page: 50 } });
  return render(c, <OrgsPage page={pageOf(c, { current: "orgs" })} orgs={list.ok ? list.data : []} pagination={list.ok ? list.pagination : undefined} tiers={Object.keys(c.get("config").tiers)} error={result.error} />, refusalStatus(result.status));
});

// ---- keys ----

consoleApp.get("/orgs/:org/keys", async (c) => {
  const orgId = orgParam(c);
  if (!orgId) return notFound(c, "org");
  const status = ["active", "disabled", "expired", "revoked"].includes(c.req.query("status") ?? "") ? c.req.query("status") : undefined;
  const page = pageNumber(c.req.query("page"));
  const result = await api<ApiKey[]>(c, { path: `/orgs/${orgId}/keys`, query: { status, page, per_page: 20 } });
  const ctx = pageOf(c, { orgId, current: "keys" });
  if (!result.ok) return render(c, <KeysPage page={ctx} orgId={orgId} keys={[]} status={status} error={result.error} />, refusalStatus(result.status));
  return render(c, <KeysPage page={ctx} orgId={orgId} keys={result.data} pagination={result.pagination} status={status} notice={noticeOf(c)} rotationReminderAfterMs={c.get("config").rotationReminderAfterMs} />);
});

async function orgTier(c: ConsoleContext, orgId: string): Promise<string | undefined> {
  const org = await api<ApiOrg>(c, { path: `/orgs/${orgId}` });
  return org.ok ? org.data.tier : undefined;
}

/** The catalogue, less what the signed-in key could not grant (the API refuses a scope the calling key lacks, §9). */
function grantableScopes(c: ConsoleContext): Record<string, string> {
  const session = c.get("session")!;
  const scopes = c.get("config").scopes;
  if (session.kind === "operator") return scopes;
  return Object.fromEntries(Object.entries(scopes).filter(([scope]) => grantsScope(session.scopes ?? [], scope)));
}

function createForm(form: Record<string, unknown>, config: Config): CreateKeyForm {
  return {
    name: formText(form.name),
    scopes: formList(form.scopes),
    expiry: formText(form.expiry) || defaultExpiry(config.expiryPolicy),
    expires_at_date: formText(form.expires_at_date),
    limit: formText(form.limit),
    window: formText(form.window),
    allowed_ips: typeof form.allowed_ips === "string" ? form.allowed_ips : "",
    // Kept through a refused attempt (nothing was created); a fresh one for a form that never had one.
    submission: typeof form.submission === "string" && ID.test(form.submission) ? form.submission : randomToken(),
  };
}

/**
 * A reload of the page that shows a new key sends its form again. Without this, every reload created another
 * active key, each shown once and then lost. KV is enough here: the reload comes from the same browser, so the
 * same location, where a write is visible at once (other locations may lag, as README "Key lookup" says).
 */
const submissionKey = (submission: string) => `console:submitted:${submission}`;
const SUBMISSION_TTL_SECONDS = 86_400;

/** The form as the API's create body; a problem the API could not name (a missing date) is reported the API's way. */
function createBody(form: CreateKeyForm): { body?: Record<string, unknown>; error?: ApiError } {
  const body: Record<string, unknown> = { name: form.name, scopes: form.scopes };
  if (form.expiry === "custom") {
    if (!/^\d{4}-\d{2}-\d{2}$/.test(form.expires_at_date ?? "")) {
      return { error: { code: "validation_error", message: "choose the expiry date", details: [{ field: "expires_at", message: "pick a date for \"Custom date\"" }] } };
    }
    body.expires_at = `${form.expires_at_date}T23:59:59Z`;
  } else if (form.expires_at_date) {
    // A preset chosen and a date typed: which one was meant cannot be known, and guessing either way would give the
    // key a lifetime its creator did not choose (the 90-day default while they typed a date, or the reverse).
    return {
      error: {
        code: "validation_error",
        message: "choose one expiry",
        details: [{ field: "expires_at", message: `a date was typed but "${form.expiry}" is chosen: choose "Custom date" to use the date, or clear the date` }],
      },
    };
  } else {
    body.expires_in = form.expiry;
  }
  const allowedIps = ipList(form.allowed_ips ?? "");
  if (allowedIps.length > 0) body.allowed_ips = allowedIps;
  // Digits become a number; anything else ("1e3", "1.5", "ten") goes as typed, so the API's own validation names it
  // instead of Number() reading "1e3" as 1000 or "abc" as null.
  if (form.limit || form.window) body.rate_limit = { limit: /^\d+$/.test(form.limit ?? "") ? Number(form.limit) : form.limit, window: form.window || "60s" };
  return { body };
}

consoleApp.get("/orgs/:org/keys/new", async (c) => {
  const orgId = orgParam(c);
  if (!orgId) return notFound(c, "org");
  if (!canWrite(c.get("session"))) return c.redirect(`${orgBase(orgId)}/keys`, 303);
  const config = c.get("config");
  const ctx = pageOf(c, { orgId, current: "keys" });
  // An org that does not exist (or is another tenant's) has no form to fill: the API's 404, not a form that fails later.
  const org = await api<ApiOrg>(c, { path: `/orgs/${orgId}` });
  if (!org.ok) return render(c, <KeysPage page={ctx} orgId={orgId} keys={[]} error={org.error} />, refusalStatus(org.status));
  return render(c, <CreateKeyPage page={ctx} orgId={orgId} catalogue={grantableScopes(c)} form={{ scopes: [], submission: randomToken() }} tierLimits={tierLimitText(config, org.data.tier)} expiryPolicy={config.expiryPolicy} />);
});

consoleApp.post("/orgs/:org/keys", async (c) => {
  const orgId = orgParam(c);
  if (!orgId) return notFound(c, "org");
  const config = c.get("config");
  const form = createForm(await c.req.parseBody({ all: true }), config);
  const ctx = pageOf(c, { orgId, current: "keys" });
  if (await c.env.KEY_CACHE.get(submissionKey(form.submission!))) return c.redirect(`${orgBase(orgId)}/keys?notice=already-created`, 303);
  const { body, error } = createBody(form);
  const result = body ? await api<ApiKey & { key: string }>(c, { method: "POST", path: `/orgs/${orgId}/keys`, body }) : null;
  if (result?.ok) {
    await c.env.KEY_CACHE.put(submissionKey(form.submission!), result.data.id, { expirationTtl: SUBMISSION_TTL_SECONDS });
    return render(c, <RevealPage page={ctx} orgId={orgId} apiKey={result.data} />, 201);
  }
  const shown = result && !result.ok ? result.error : error!;
  return render(c, <CreateKeyPage page={ctx} orgId={orgId} catalogue={grantableScopes(c)} form={form} error={shown} tierLimits={tierLimitText(config, await orgTier(c, orgId))} expiryPolicy={config.expiryPolicy} />, result ? refusalStatus(result.status) : 400);
});

function keyParams(c: ConsoleContext): { orgId: string; keyId: string } | null {
  const orgId = orgParam(c);
  const keyId = c.req.param("key") ?? "";
  return orgId && ID.test(keyId) ? { orgId, keyId } : null;
}

/** The start of the chart's first hour. */
const chartSince = (now: number) => new Date(Math.floor(now / HOUR_MS) * HOUR_MS - (CHART_HOURS - 1) * HOUR_MS).toISOString();

/** Per-hour usage over the last 24 h, from whichever usage shape the API answers with. */
async function keyUsage(c: ConsoleContext, orgId: string, keyId: string, now: number): Promise<{ buckets: UsageBucket[] | null; error: ApiError | null; note: string | null }> {
  const usage = await api<Record<string, unknown>>(c, { path: `/orgs/${orgId}/keys/${keyId}/usage`, query: { since: chartSince(now), granularity: "hour", per_page: 100 } });
  if (!usage.ok) return { buckets: null, error: usage.error, note: null };
  const buckets = usageBuckets(usage.data, now);
  const sampled = !Array.isArray(usage.data.series) && usage.pagination && usage.pagination.total > usage.pagination.per_page;
  return { buckets, error: null, note: sampled ? `Latency and hourly counts come from the latest ${usage.pagination!.per_page} of ${usage.pagination!.total} calls.` : null };
}

async function keyLimits(c: ConsoleContext, orgId: string, key: ApiKey): Promise<LimitRow[]> {
  const rows: LimitRow[] = [];
  const rateLimit = key.rate_limit as { limit?: number; window?: string } | null | undefined;
  const tierText = tierLimitText(c.get("config"), await orgTier(c, orgId));
  if (rateLimit && typeof rateLimit === "object" && rateLimit.limit !== undefined) rows.push({ name: "Key limit", text: `${rateLimit.limit} per ${rateLimit.window}` });
  if (tierText) rows.push({ name: rateLimit ? "Tier" : "Limit (from the tier)", text: tierText });
  // Remaining budget, where the API reports it (GET …/limits); its fields are shown as they come.
  const live = await api<Record<string, unknown>>(c, { path: `/orgs/${orgId}/keys/${key.id}/limits` });
  if (live.ok) rows.push(...liveLimitRows(live.data));
  return rows;
}

async function renderKeyDetail(c: ConsoleContext, orgId: string, keyId: string, error: ApiError | null = null, status: ContentfulStatusCode = 200, allowedIpsText?: string) {
  const ctx = pageOf(c, { orgId, current: "keys" });
  const key = await api<ApiKey>(c, { path: `/orgs/${orgId}/keys/${keyId}` });
  if (!key.ok) return render(c, <KeysPage page={ctx} orgId={orgId} keys={[]} error={key.error} />, refusalStatus(key.status));
  const now = Date.now();
  const [usage, limits] = await Promise.all([keyUsage(c, orgId, keyId, now), keyLimits(c, orgId, key.data)]);
  return render(c, 
    <KeyDetailPage page={ctx} orgId={orgId} apiKey={key.data} buckets={usage.buckets} usageError={usage.error} usageNote={usage.note} limits={limits} error={error} notice={noticeOf(c)} allowedIpsText={allowedIpsText} rotationReminderAfterMs={c.get("config").rotationReminderAfterMs} />,
    status,
  );
}

consoleApp.get("/orgs/:org/keys/:key", async (c) => {
  const params = keyParams(c);
  if (!params) return notFound(c, "key");
  return renderKeyDetail(c, params.orgId, params.keyId);
});

consoleApp.post("/orgs/:org/keys/:key/rotate", async (c) => {
  const params = keyParams(c);
  if (!params) return notFound(c, "key");
  const form = await c.req.parseBody();
  const grace = formText(form.grace_period) || "0s";
  if (!GRACE_PERIODS.some(([value]) => value === grace)) return renderKeyDetail(c, params.orgId, params.keyId, { code: "validation_error", message: "choose one of the grace periods" }, 400);
  const result = await api<ApiKey & { key: string }>(c, { method: "POST", path: `/orgs/${params.orgId}/keys/${params.keyId}/rotate`, body: { grace_period: grace } });
  if (!result.ok) return renderKeyDetail(c, params.orgId, params.keyId, result.error, refusalStatus(result.status));
  return render(c, <RevealPage page={pageOf(c, { orgId: params.orgId, current: "keys" })} orgId={params.orgId} apiKey={result.data} rotatedFrom={params.keyId} />, 201);
});

consoleApp.post("/orgs/:org/keys/:key/allowed-ips", async (c) => {
  const params = keyParams(c);
  if (!params) return notFound(c, "key");
  const form = await c.req.parseBody();
  const text = typeof form.allowed_ips === "string" ? form.allowed_ips : "";
  const result = await api<ApiKey>(c, { method: "PATCH", path: `/orgs/${params.orgId}/keys/${params.keyId}`, body: { allowed_ips: ipList(text) } });
  if (result.ok) return c.redirect(`${keyBase(params.orgId, params.keyId)}?notice=ips-saved`, 303);
  return renderKeyDetail(c, params.orgId, params.keyId, result.error, refusalStatus(result.status), text);
});

consoleApp.post("/orgs/:org/keys/:key/enabled", async (c) => {
  const params = keyParams(c);
  if (!params) return notFound(c, "key");
  const value = formText((await c.req.parseBody()).enabled);
  if (value !== "true" && value !== "false") return renderKeyDetail(c, params.orgId, params.keyId, { code: "validation_error", message: "enabled must be true or false" }, 400);
  const enabled = value === "true";
  const result = await api<ApiKey>(c, { method: "PATCH", path: `/orgs/${params.orgId}/keys/${params.keyId}`, body: { enabled } });
  if (result.ok) return c.redirect(`${keyBase(params.orgId, params.keyId)}?notice=${enabled ? "enabled" : "disabled"}`, 303);
  return renderKeyDetail(c, params.orgId, params.keyId, result.error, refusalStatus(result.status));
});

consoleApp.get("/orgs/:org/keys/:key/revoke", async (c) => {
  const params = keyParams(c);
  if (!params) return notFound(c, "key");
  const ctx = pageOf(c, { orgId: params.orgId, current: "keys" });
  const key = await api<ApiKey>(c, { path: `/orgs/${params.orgId}/keys/${params.keyId}` });
  if (!key.ok) return render(c, <KeysPage page={ctx} orgId={params.orgId} keys={[]} error={key.error} />, refusalStatus(key.status));
  // The confirmation is a control like the others: not offered to a read-only session, nor for a key already final.
  if (!canChange(c.get("session"), key.data)) return c.redirect(keyBase(params.orgId, params.keyId), 303);
  return render(c, <RevokePage page={ctx} orgId={params.orgId} apiKey={key.data} />);
});

consoleApp.post("/orgs/:org/keys/:key/revoke", async (c) => {
  const params = keyParams(c);
  if (!params) return notFound(c, "key");
  const result = await api<ApiKey>(c, { method: "POST", path: `/orgs/${params.orgId}/keys/${params.keyId}/revoke` });
  if (result.ok) return c.redirect(`${keyBase(params.orgId, params.keyId)}?notice=revoked`, 303);
  return renderKeyDetail(c, params.orgId, params.keyId, result.error, refusalStatus(result.status));
});

// ---- audit and usage ----


consoleApp.get("/orgs/:org/audit", async (c) => {
  const orgId = orgParam(c);
  if (!orgId) return notFound(c, "org");
  const q = c.req.query();
  // The filters go to the API as typed (bounded), so a key id or date it cannot use comes back as its error on
  // the page; dropping them here showed the unfiltered trail as if it were the filtered one.
  const typed = (value: string | undefined) => (value ?? "").trim().slice(0, 100) || undefined;
  const filters: AuditFilters = { action: typed(q.action), key_id: typed(q.key_id), since: typed(q.since), until: typed(q.until) };
  const page = pageNumber(q.page);
  const ctx = pageOf(c, { orgId, current: "audit" });
  if (!canReadAudit(c.get("session"))) {
    // The API's own refusal, shown without the round trip.
    const refusal = insufficientScope("management", ["audit:read"]);
    return render(c, <AuditPage page={ctx} orgId={orgId} actions={AUDIT_ACTIONS} filters={filters} events={[]} error={{ code: refusal.code, message: refusal.message }} />, 403);
  }
  const result = await api<AuditEvent[]>(c, { path: `/orgs/${orgId}/audit`, query: { ...filters, page, per_page: 50 } });
  if (!result.ok) return render(c, <AuditPage page={ctx} orgId={orgId} actions={AUDIT_ACTIONS} filters={filters} events={[]} error={result.error} />, refusalStatus(result.status));
  return render(c, <AuditPage page={ctx} orgId={orgId} actions={AUDIT_ACTIONS} filters={filters} events={result.data} pagination={result.pagination} />);
});

consoleApp.get("/orgs/:org/usage", async (c) => {
  const orgId = orgParam(c);
  if (!orgId) return notFound(c, "org");
  const ctx = pageOf(c, { orgId, current: "usage" });
  const now = Date.now();
  const keys = await api<ApiKey[]>(c, { path: `/orgs/${orgId}/keys`, query: { sort: "-last_used_at", per_page: 20 } });
  if (!keys.ok) return render(c, <UsagePage page={ctx} orgId={orgId} rows={[]} total={sumBuckets([], now)} error={keys.error} />, refusalStatus(keys.status));
  // One call where the API has org-wide usage (series plus per-key totals); otherwise one per key.
  const org = await api<{ series?: unknown; keys?: Array<{ key_id: string; by_status?: Record<string, number> }> }>(c, {
    path: `/orgs/${orgId}/usage`,
    query: { since: chartSince(now), granularity: "hour", per_page: 100 },
  });
  if (org.ok && Array.isArray(org.data.series)) {
    const totals = new Map((org.data.keys ?? []).map((row) => [row.key_id, row.by_status ?? {}]));
    const rows: KeyUsageRow[] = keys.data.map((key) => ({ key, totals: totals.get(key.id) ?? {} }));
    return render(c, <UsagePage page={ctx} orgId={orgId} rows={rows} total={usageBuckets(org.data, now)} note="All of the org's keys." />);
  }
  const rows: KeyUsageRow[] = await Promise.all(
    keys.data.map(async (key) => {
      const buckets = (await keyUsage(c, orgId, key.id, now)).buckets;
      return { key, totals: buckets ? classTotals(buckets) : null, buckets };
    }),
  );
  const total = sumBuckets(rows.flatMap((row) => (row.buckets ? [row.buckets] : [])), now);
  const more = keys.pagination && keys.pagination.total > keys.data.length ? `The ${keys.data.length} most recently used of ${keys.pagination.total} keys.` : null;
  return render(c, <UsagePage page={ctx} orgId={orgId} rows={rows} total={total} note={more} />);
});

consoleApp.notFound((c) => consoleError(c, new KeygateError("not_found", `no console page ${c.req.method} ${clip(withoutKeys(c.req.path), 200)}`)));
