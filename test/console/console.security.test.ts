// The console over HTTP inside workerd: sessions, CSRF, read-only enforcement and headers. The whole
// flow in a browser is test/console/browser.test.ts.
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { adminFetch, createKey, createOrg, gatewayFetch, ORIGIN } from "../harness";
import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { sealSession, sessionKeys } from "../../src/console/session";
import worker from "../../src/index";
import { CONSOLE, cookiesOf, csrfIn, form, page, signIn } from "./support";

describe("console: security", () => {
  it("sends a signed-out visitor to the sign-in page, with a CSP that allows only this origin", async () => {
    const res = await gatewayFetch(`${CONSOLE}/orgs/org_x/keys`, { redirect: "manual" });
    expect(res.status).toBe(303);
    expect(res.headers.get("location")).toBe(`${CONSOLE}/sign-in`);
    const signIn = await gatewayFetch(`${CONSOLE}/sign-in`);
    expect(signIn.headers.get("content-security-policy")).toContain("default-src 'self'");
    expect(signIn.headers.get("cache-control")).toBe("no-store");
    const html = await signIn.text();
    expect(html.startsWith("<!doctype html><html lang=\"en\">")).toBe(true);
    expect(html).not.toMatch(/(src|href)="https?:/);
    expect(html).toContain('<label for="credential">');
  });

  it("signs the operator in with an HttpOnly, SameSite=Strict, expiring cookie that does not contain the token", async () => {
    const { res } = await signIn(env.ADMIN_TOKEN!);
    expect(res.status).toBe(303);
    const cookie = res.headers.getSetCookie().find((line) => line.startsWith("keygate_console="))!;
    expect(cookie).toMatch(/HttpOnly/);
    expect(cookie).toMatch(/SameSite=Strict/);
    expect(cookie).toMatch(/Max-Age=\d+/);
    expect(cookie).toMatch(/Path=\/_keygate\/console/);
    expect(cookie).not.toContain(env.ADMIN_TOKEN!);
    expect(decodeURIComponent(cookie)).not.toContain(env.ADMIN_TOKEN!);
  });

  it("refuses a sign-in without the form's CSRF token", async () => {
    const first = await gatewayFetch(`${CONSOLE}/sign-in`);
    const jar = cookiesOf(first);
    const res = await form("/sign-in", jar, { credential: env.ADMIN_TOKEN! });
    expect(res.status).toBe(403);
    expect(res.headers.getSetCookie().some((line) => line.startsWith("keygate_console="))).toBe(false);
  });

  it("answers a wrong token with a clear message and no session", async () => {
    const { res } = await signIn("definitely-not-the-admin-token");
    expect(res.status).toBe(401);
    expect(await res.text()).toContain("That token or key was not accepted");
    expect(res.headers.getSetCookie().some((line) => line.startsWith("keygate_console="))).toBe(false);
  });

  it("a failed sign-in is a failed authentication of the API from the browser's address (auth.failed, same per-source accounting)", async () => {
    const { id } = await createOrg();
    const revoked = await createKey(id, { scopes: ["admin"] });
    expect((await adminFetch(`/orgs/${id}/keys/${revoked.id}/revoke`, { method: "POST" })).status).toBe(200);
    for (let i = 0; i < 2; i++) expect((await signIn(revoked.key, { "cf-connecting-ip": "198.51.100.88" })).res.status).toBe(401);
    let row: { source: string; reason: string; count: number; key_id: string } | undefined;
    for (const deadline = Date.now() + 10_000; Date.now() < deadline; await new Promise((resolve) => setTimeout(resolve, 100))) {
      const trail = await (await adminFetch(`/orgs/${id}/audit?action=auth.failed`)).json<{ data: (typeof row & object)[] }>();
      row = trail.data.find((event) => event.count >= 2);
      if (row) break;
    }
    expect(row).toMatchObject({ key_id: revoked.id, source: "198.51.100.88", reason: "key_revoked", count: 2 });
  });

  it("refuses a key that holds neither admin nor keys:read", async () => {
    const { id } = await createOrg();
    const { key } = await createKey(id, { scopes: ["demo:read"] });
    const { res } = await signIn(key);
    expect(res.status).toBe(403);
    expect(await res.text()).toContain("needs the admin scope, or keys:read");
  });

  it("treats a tampered session cookie as no session", async () => {
    const { jar } = await signIn(env.ADMIN_TOKEN!);
    const value = jar.keygate_console!;
    const flipped = value.slice(0, 20) + (value[20] === "A" ? "B" : "A") + value.slice(21);
    const res = await page("/orgs", { keygate_console: flipped });
    expect(res.status).toBe(303);
    expect(res.headers.get("location")).toBe(`${CONSOLE}/sign-in`);
  });

  it("refuses a cookie sealed with another secret, an expired one, and one that claims more than it was given", async () => {
    const foreign = await sessionKeys("some-other-deployment-secret-0123456789");
    const forged = await sealSession(foreign, { credential: env.ADMIN_TOKEN!, sid: "forged", expiresAt: Date.now() + 3_600_000, kind: "operator" });
    const own = await sessionKeys(env.CONSOLE_SESSION_SECRET ?? env.ADMIN_TOKEN!);
    const expired = await sealSession(own, { credential: env.ADMIN_TOKEN!, sid: "old", expiresAt: Date.now() - 1000, kind: "operator" });
    // A wrong credential sealed correctly (a leaked secret would allow this): the API still refuses it, so no session.
    const wrong = await sealSession(own, { credential: "not-the-token", sid: "wrong", expiresAt: Date.now() + 3_600_000, kind: "operator" });
    for (const [name, value] of [["foreign", forged], ["expired", expired]] as const) {
      const res = await page("/orgs", { keygate_console: value });
      expect(res.status, name).toBe(303);
      expect(res.headers.get("location"), name).toBe(`${CONSOLE}/sign-in`);
    }
    const refused = await page("/orgs", { keygate_console: wrong });
    expect(refused.status).toBe(303);
    expect(refused.headers.get("location")).toBe(`${CONSOLE}/sign-in?notice=expired`);
  });

  it("a CONSOLE_SESSION_TTL shortened after sign-in shortens the sessions already issued", async () => {
    const own = await sessionKeys(env.CONSOLE_SESSION_SECRET ?? env.ADMIN_TOKEN!);
    const now = Date.now();
    const cookie = await sealSession(own, { credential: env.ADMIN_TOKEN!, sid: `ttl-${now}`, issuedAt: now - 120_000, expiresAt: now + 8 * 3_600_000, kind: "operator" });
    const visit = async (vars: typeof env) => {
      const ctx = createExecutionContext();
      const res = await worker.fetch(new Request(`${ORIGIN}${CONSOLE}/orgs`, { redirect: "manual", headers: { cookie: `keygate_console=${cookie}` } }), vars, ctx);
      await waitOnExecutionContext(ctx);
      return res;
    };
    expect((await visit(env)).status).toBe(200);
    const shortened = await visit({ ...env, CONSOLE_SESSION_TTL: "1m" } as typeof env);
    expect(shortened.status).toBe(303);
    expect(shortened.headers.get("location")).toBe(`${CONSOLE}/sign-in`);
  });

  it("signing in again over a session ends the session it replaces", async () => {
    const { jar } = await signIn(env.ADMIN_TOKEN!);
    const before = { ...jar };
    const csrf = csrfIn(await (await page("/orgs", jar)).text());
    const again = await form("/sign-in", jar, { _csrf: csrf, credential: env.ADMIN_TOKEN! });
    expect(again.status).toBe(303);
    const after = cookiesOf(again, { ...jar });
    expect(after.keygate_console).not.toBe(before.keygate_console);
    expect((await page("/orgs", after)).status).toBe(200);
    const old = await page("/orgs", before);
    expect(old.status).toBe(303);
    expect(old.headers.get("location")).toBe(`${CONSOLE}/sign-in`);
  });

  it("refuses a signed-in POST whose CSRF token is missing or belongs to another session", async () => {
    const a = await signIn(env.ADMIN_TOKEN!);
    const b = await signIn(env.ADMIN_TOKEN!);
    const tokenOfB = csrfIn(await (await page("/orgs", b.jar)).text());
    for (const fields of [{ name: "no-token", tier: "free" } as Record<string, string>, { name: "other-token", tier: "free", _csrf: tokenOfB }]) {
      expect((await form("/orgs", a.jar, fields)).status).toBe(403);
    }
    const orgs = await (await adminFetch("/orgs?name=token&per_page=100")).json<{ data: unknown[] }>();
    expect(orgs.data).toEqual([]);
  });

  it("ends the session when its key is revoked", async () => {
    const { id } = await createOrg();
    const admin = await createKey(id, { scopes: ["admin"] });
    const { jar } = await signIn(admin.key);
    expect((await page(`/orgs/${id}/keys`, jar)).status).toBe(200);
    expect((await adminFetch(`/orgs/${id}/keys/${admin.id}/revoke`, { method: "POST" })).status).toBe(200);
    const res = await page(`/orgs/${id}/keys`, jar);
    expect(res.status).toBe(303);
    expect(res.headers.get("location")).toBe(`${CONSOLE}/sign-in?notice=expired`);
  });

  it("the controls follow the signed-in key's scopes as they are now, and a key that loses keys:read loses the console", async () => {
    const { id } = await createOrg();
    const key = await createKey(id, { scopes: ["admin"] });
    const { jar } = await signIn(key.key);
    const setScopes = async (scopes: string[]) => expect((await adminFetch(`/orgs/${id}/keys/${key.id}`, { method: "PATCH", json: { scopes } })).status).toBe(200);
    expect(await (await page(`/orgs/${id}/keys`, jar)).text()).toContain(">Create key</button>");
    await setScopes(["keys:read"]);
    const reduced = await (await page(`/orgs/${id}/keys`, jar)).text();
    expect(reduced).not.toContain(">Create key</button>");
    expect(reduced).toContain("(read-only)");
    await setScopes(["keys:read", "keys:write"]);
    expect(await (await page(`/orgs/${id}/keys`, jar)).text()).toContain(">Create key</button>");
    await setScopes(["demo:read"]);
    const gone = await page(`/orgs/${id}/keys`, jar);
    expect(gone.status).toBe(303);
    expect(gone.headers.get("location")).toBe(`${CONSOLE}/sign-in?notice=scopes-changed`);
    expect(gone.headers.getSetCookie().find((line) => line.startsWith("keygate_console="))).toMatch(/Max-Age=0/);
  });

  it("a read-only key's revoke is refused by the API and the key stays active", async () => {
    const { id } = await createOrg();
    const reader = await createKey(id, { scopes: ["keys:read"] });
    const target = await createKey(id, { scopes: ["demo:read"] });
    const { jar } = await signIn(reader.key);
    const keys = await page(`/orgs/${id}/keys`, jar);
    const html = await keys.text();
    expect(html).not.toContain(">Create key</button>");
    // No Revoke control anywhere, the confirmation page included (it leads back to the key).
    const detail = await (await page(`/orgs/${id}/keys/${target.id}`, jar)).text();
    expect(detail).not.toMatch(/>\s*Revoke\s*</);
    const confirm = await page(`/orgs/${id}/keys/${target.id}/revoke`, jar);
    expect(confirm.status).toBe(303);
    expect(confirm.headers.get("location")).toBe(`${CONSOLE}/orgs/${id}/keys/${target.id}`);
    const res = await form(`/orgs/${id}/keys/${target.id}/revoke`, jar, { _csrf: csrfIn(html) });
    expect(res.status).toBe(403);
    expect(await res.text()).toContain("insufficient_scope");
    const after = await (await adminFetch(`/orgs/${id}/keys/${target.id}`)).json<{ data: { status: string } }>();
    expect(after.data.status).toBe("active");
  });

  it("disable and allowed-IPs forms need the CSRF token and the API's write scope; the key is unchanged otherwise", async () => {
    const { id } = await createOrg();
    const reader = await createKey(id, { scopes: ["keys:read"] });
    const target = await createKey(id, { scopes: ["demo:read"] });
    const { jar: opJar } = await signIn(env.ADMIN_TOKEN!);
    for (const [path, fields] of [["enabled", { enabled: "false" }], ["allowed-ips", { allowed_ips: "10.0.0.1" }]] as const) {
      const res = await form(`/orgs/${id}/keys/${target.id}/${path}`, opJar, fields);
      expect(res.status, path).toBe(403);
    }
    const { jar } = await signIn(reader.key);
    const html = await (await page(`/orgs/${id}/keys/${target.id}`, jar)).text();
    expect(html).not.toContain('name="enabled"');
    const res = await form(`/orgs/${id}/keys/${target.id}/enabled`, jar, { _csrf: csrfIn(html), enabled: "false" });
    expect(res.status).toBe(403);
    expect(await res.text()).toContain("insufficient_scope");
    const after = await (await adminFetch(`/orgs/${id}/keys/${target.id}`)).json<{ data: { status: string; allowed_ips: string[] } }>();
    expect(after.data).toMatchObject({ status: "active", allowed_ips: [] });
  });

  it("a keys:read session's every write form is refused 403 by the API, and nothing changes", async () => {
    const { id } = await createOrg({ tier: "free" });
    const reader = await createKey(id, { scopes: ["keys:read"] });
    const target = await createKey(id, { scopes: ["demo:read"] });
    const { jar } = await signIn(reader.key);
    const csrf = csrfIn(await (await page(`/orgs/${id}/keys`, jar)).text());
    const writes: Array<[string, Record<string, string>]> = [
      ["/orgs", { name: "by-a-reader", tier: "free" }],
      [`/orgs/${id}/tier`, { tier: "pro" }],
      [`/orgs/${id}/keys`, { name: "by-a-reader", scopes: "demo:read", expiry: "30d" }],
      [`/orgs/${id}/keys/${target.id}/rotate`, { grace_period: "0s" }],
      [`/orgs/${id}/keys/${target.id}/revoke`, {}],
      [`/orgs/${id}/keys/${target.id}/enabled`, { enabled: "false" }],
      [`/orgs/${id}/keys/${target.id}/allowed-ips`, { allowed_ips: "10.0.0.1" }],
    ];
    for (const [path, fields] of writes) {
      const res = await form(path, jar, { _csrf: csrf, ...fields });
      expect(res.status, path).toBe(403);
      // Org changes are the operator's alone (forbidden); key changes need keys:write (insufficient_scope).
      expect(await res.text(), path).toMatch(path.includes("/keys") ? /\(insufficient_scope\)/ : /\(forbidden\)/);
    }
    const org = await (await adminFetch(`/orgs/${id}`)).json<{ data: { tier: string } }>();
    expect(org.data.tier).toBe("free");
    const keys = await (await adminFetch(`/orgs/${id}/keys`)).json<{ data: Array<{ id: string; status: string; allowed_ips: string[] }> }>();
    expect(keys.data.map((key) => key.id).sort()).toEqual([reader.id, target.id].sort());
    expect(keys.data.find((key) => key.id === target.id)).toMatchObject({ status: "active", allowed_ips: [] });
    expect((await (await adminFetch("/orgs?name=by-a-reader")).json<{ data: unknown[] }>()).data).toEqual([]);
  });

  it("a page the API refused carries the API's status, never 200: unknown org 404, a page number it cannot serve 400", async () => {
    const { id } = await createOrg();
    const { jar } = await signIn(env.ADMIN_TOKEN!);
    const csrf = csrfIn(await (await page("/orgs", jar)).text());
    expect((await form("/orgs/org_doesnotexist/tier", jar, { _csrf: csrf, tier: "pro" })).status).toBe(404);
    for (const path of [`/orgs/${id}/keys?page=99999`, `/orgs/${id}/audit?page=99999`, "/orgs?page=99999"]) {
      const res = await page(path, jar);
      expect(res.status, path).toBe(400);
      expect(await res.text(), path).toContain("validation_error");
    }
    // Not a page number at all: the first page, as people expect of a hand-edited URL.
    for (const path of [`/orgs/${id}/keys?page=abc`, `/orgs/${id}/audit?page=-1`, "/orgs?page=1.5"]) expect((await page(path, jar)).status, path).toBe(200);
  });

  it("an org key sees only its own org: another org's keys page shows the API's 404", async () => {
    const mine = await createOrg();
    const theirs = await createOrg();
    const { key } = await createKey(mine.id, { scopes: ["admin"] });
    const { jar } = await signIn(key);
    const res = await page(`/orgs/${theirs.id}/keys`, jar);
    expect(res.status).toBe(404);
    expect(await res.text()).toContain("not_found");
    // Nor a create form for it.
    const create = await page(`/orgs/${theirs.id}/keys/new`, jar);
    expect(create.status).toBe(404);
    expect(await create.text()).not.toContain('name="scopes"');
  });

  it("escapes what users typed: a key named like markup is text on every page", async () => {
    const { id } = await createOrg({ name: `<img src=x onerror=alert(1)>` });
    const { id: keyId } = await createKey(id, { name: `<script>alert("k")</script>` });
    // Meta keys and values are shown on the key's page; audit details carry the name.
    const withMeta = await adminFetch(`/orgs/${id}/keys`, { method: "POST", json: { name: "meta", scopes: ["demo:read"], expires_in: "30d", meta: { "<b onmouseover=alert(2)>": "<svg onload=alert(3)>" } } });
    const metaKey = (await withMeta.json<{ data: { id: string } }>()).data.id;
    const metaPage = await (await page(`/orgs/${id}/keys/${metaKey}`, (await signIn(env.ADMIN_TOKEN!)).jar)).text();
    expect(metaPage).not.toMatch(/<b onmouseover|<svg onload/);
    expect(metaPage).toContain("&lt;svg onload=alert(3)&gt;");
    const { jar } = await signIn(env.ADMIN_TOKEN!);
    for (const path of ["/orgs", `/orgs/${id}/keys`, `/orgs/${id}/keys/${keyId}`, `/orgs/${id}/keys/${keyId}/revoke`, `/orgs/${id}/audit`, `/orgs/${id}/usage`]) {
      const html = await (await page(path, jar)).text();
      expect(html, path).not.toContain("<script>alert");
      expect(html, path).not.toContain("<img src=x");
    }
    expect(await (await page(`/orgs/${id}/keys`, jar)).text()).toContain("&lt;script&gt;alert(&quot;k&quot;)&lt;/script&gt;");
  });

  it("signing out clears the session", async () => {
    const { jar } = await signIn(env.ADMIN_TOKEN!);
    const html = await (await page("/orgs", jar)).text();
    const res = await form("/sign-out", jar, { _csrf: csrfIn(html) });
    expect(res.status).toBe(303);
    const cleared = res.headers.getSetCookie().find((line) => line.startsWith("keygate_console="))!;
    expect(cleared).toMatch(/Max-Age=0/);
  });

  it("a copy of the cookie taken before signing out no longer works after it, and other sessions go on", async () => {
    const { jar } = await signIn(env.ADMIN_TOKEN!);
    const other = await signIn(env.ADMIN_TOKEN!);
    const copy = { ...jar };
    const html = await (await page("/orgs", jar)).text();
    expect((await form("/sign-out", jar, { _csrf: csrfIn(html) })).status).toBe(303);
    const replayed = await page("/orgs", copy);
    expect(replayed.status).toBe(303);
    expect(replayed.headers.get("location")).toBe(`${CONSOLE}/sign-in`);
    // Its forms are dead too: a POST with the copied cookie and the old page's token changes nothing.
    expect((await form("/orgs", copy, { _csrf: csrfIn(html), name: "after-sign-out", tier: "free" })).status).toBe(403);
    expect((await (await adminFetch("/orgs?name=after-sign-out")).json<{ data: unknown[] }>()).data).toEqual([]);
    expect((await page("/orgs", other.jar)).status).toBe(200);
  });
});
