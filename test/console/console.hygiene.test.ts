// Key hygiene in the console (issue 16): the "rotate soon" badge, the reveal page's guidance link, expiry presets by policy.
import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { handleRequest } from "../../src/app";
import type { Env } from "../../src/env";
import { BEFORE_MONTH_END, frozenClock, utcDate } from "../clock";
import { adminFetch, createKey, createOrg } from "../harness";
import { CONSOLE, cookieHeader, csrfIn, form, page, signIn } from "./support";

const DAY = 86_400_000;

/** A console page served by a worker whose env carries `vars` (the session cookie stays valid: same secret). */
async function pageWith(vars: Partial<Env>, path: string, jar: Record<string, string>): Promise<Response> {
  const ctx = createExecutionContext();
  const res = await handleRequest(new Request(`http://gw.test${CONSOLE}${path}`, { headers: { cookie: cookieHeader(jar) } }), { ...env, ...vars } as Env, ctx);
  await waitOnExecutionContext(ctx);
  return res;
}

/** Backdates a key's creation, as if it had been made `days` ago. */
async function age(keyId: string, days: number) {
  await env.DB.prepare("UPDATE api_keys SET created_at = ? WHERE id = ?").bind(Date.now() - days * DAY - 60_000, keyId).run();
}

const BADGE = '<span class="badge rotate"';

describe("console: the date picker's cap at a day's end", () => {
  it("at 23:59:59.900 UTC on January 31st, MAX_KEY_LIFETIME 60d caps the picker at April 1st, the date 60 days on", async () => {
    frozenClock(BEFORE_MONTH_END);
    const { id } = await createOrg();
    const { jar } = await signIn(env.ADMIN_TOKEN!);
    const html = await (await pageWith({ MAX_KEY_LIFETIME: "60d" } as Partial<Env>, `/orgs/${id}/keys/new`, jar)).text();
    expect(html).toMatch(/id="expires_at_date"[^>]*max="2031-04-01"/);
  });
});

describe("console: rotate soon", () => {
  it("badges keys at least ROTATION_REMINDER_AFTER old (default 90d) in the list and on the detail page, and none when it is off", async () => {
    const { id } = await createOrg();
    const old = await createKey(id, { name: "old one" });
    const young = await createKey(id, { name: "young one" });
    await age(old.id, 90);
    await age(young.id, 89);
    const { jar } = await signIn(env.ADMIN_TOKEN!);
    const list = await (await page(`/orgs/${id}/keys`, jar)).text();
    const rowOf = (html: string, keyId: string) => html.split("<tr").find((row) => row.includes(`data-key-id="${keyId}"`)) ?? "";
    expect(rowOf(list, old.id)).toContain(BADGE);
    expect(rowOf(list, young.id)).not.toContain(BADGE);
    expect(await (await page(`/orgs/${id}/keys/${old.id}`, jar)).text()).toContain(BADGE);
    expect(await (await page(`/orgs/${id}/keys/${young.id}`, jar)).text()).not.toContain(BADGE);
    // A shorter reminder age badges the younger key too; "off" badges none.
    expect(rowOf(await (await pageWith({ ROTATION_REMINDER_AFTER: "30d" } as Partial<Env>, `/orgs/${id}/keys`, jar)).text(), young.id)).toContain(BADGE);
    const off = await pageWith({ ROTATION_REMINDER_AFTER: "off" } as Partial<Env>, `/orgs/${id}/keys`, jar);
    expect(off.status).toBe(200);
    expect(await off.text()).not.toContain(BADGE);
    expect(await (await pageWith({ ROTATION_REMINDER_AFTER: "off" } as Partial<Env>, `/orgs/${id}/keys/${old.id}`, jar)).text()).not.toContain(BADGE);
  });

  it("a revoked old key is not badged", async () => {
    const { id } = await createOrg();
    const old = await createKey(id);
    await age(old.id, 400);
    const { jar } = await signIn(env.ADMIN_TOKEN!);
    expect((await adminFetch(`/orgs/${id}/keys/${old.id}/revoke`, { method: "POST" })).status).toBe(200);
    expect(await (await page(`/orgs/${id}/keys/${old.id}`, jar)).text()).not.toContain(BADGE);
  });
});

describe("console: reveal page", () => {
  it("links to the key-holder guidance (README \"For the people who receive keys\", repeated in the served API reference)", async () => {
    const { id } = await createOrg();
    const { jar } = await signIn(env.ADMIN_TOKEN!);
    const csrf = csrfIn(await (await page(`/orgs/${id}/keys/new`, jar)).text());
    const res = await form(`/orgs/${id}/keys`, jar, { _csrf: csrf, name: "k", scopes: "demo:read", expiry: "30d" });
    expect(res.status).toBe(201);
    const href = /id="key-guidance">[^<]*<a href="([^"]+)"/.exec(await res.text())?.[1];
    expect(href).toBe("/_keygate/v1/docs#description/for-the-people-who-receive-keys");
    // The anchor names a heading that exists in the API reference's introduction and in the README.
    const spec = await (await adminFetch("/openapi.json")).json<{ info: { description: string } }>();
    expect(spec.info.description).toContain("## For the people who receive keys");
    expect((await adminFetch("/docs")).status).toBe(200);
  });
});

describe("console: expiry presets follow the expiry policy", () => {
  const presetsOf = (html: string) => [...html.matchAll(/name="expiry" value="([^"]+)"/g)].map((m) => m[1]);
  const checkedOf = (html: string) => /<input type="radio"[^>]*value="([^"]+)"[^>]*checked/.exec(html)?.[1];

  it("offers every preset, 90 days chosen, without a policy", async () => {
    const { id } = await createOrg();
    const { jar } = await signIn(env.ADMIN_TOKEN!);
    const html = await (await page(`/orgs/${id}/keys/new`, jar)).text();
    expect(presetsOf(html)).toEqual(["30d", "90d", "1y", "never", "custom"]);
    expect(checkedOf(html)).toBe("90d");
  });

  it("hides \"never\" when REQUIRE_KEY_EXPIRY is on", async () => {
    const { id } = await createOrg();
    const { jar } = await signIn(env.ADMIN_TOKEN!);
    const html = await (await pageWith({ REQUIRE_KEY_EXPIRY: "true" } as Partial<Env>, `/orgs/${id}/keys/new`, jar)).text();
    expect(presetsOf(html)).toEqual(["30d", "90d", "1y", "custom"]);
    expect(checkedOf(html)).toBe("90d");
  });

  it("hides \"never\" and presets longer than MAX_KEY_LIFETIME, chooses the longest allowed, and caps the date picker", async () => {
    // The cap is a date: read on a clock the test holds, not recomputed after the page (UTC midnight may fall between).
    frozenClock();
    const { id } = await createOrg();
    const { jar } = await signIn(env.ADMIN_TOKEN!);
    const month = await (await pageWith({ MAX_KEY_LIFETIME: "60d" } as Partial<Env>, `/orgs/${id}/keys/new`, jar)).text();
    expect(presetsOf(month)).toEqual(["30d", "custom"]);
    expect(checkedOf(month)).toBe("30d");
    const max = utcDate(Date.now() + 60 * DAY);
    expect(month).toMatch(new RegExp(`id="expires_at_date"[^>]*max="${max}"`));
    const year = await (await pageWith({ MAX_KEY_LIFETIME: "365d" } as Partial<Env>, `/orgs/${id}/keys/new`, jar)).text();
    expect(presetsOf(year)).toEqual(["30d", "90d", "1y", "custom"]);
    const week = await (await pageWith({ MAX_KEY_LIFETIME: "7d" } as Partial<Env>, `/orgs/${id}/keys/new`, jar)).text();
    expect(presetsOf(week)).toEqual(["custom"]);
    expect(checkedOf(week)).toBe("custom");
  });
});
