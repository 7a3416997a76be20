// Console actions over HTTP inside workerd: each one lands in the API's state exactly as the API call would.
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { adminFetch, createKey, createOrg } from "../harness";
import { csrfIn, form, page, signIn } from "./support";

interface KeyData {
  id: string;
  name: string;
  scopes: string[];
  expires_at: string | null;
  rate_limit: { limit: number; window: string } | null;
}

async function operator() {
  const { jar } = await signIn(env.ADMIN_TOKEN!);
  const csrf = csrfIn(await (await page("/orgs", jar)).text());
  return { jar, csrf };
}

describe("console: happy paths", () => {
  it("creates a key with a custom expiry date and a rate limit, revealed once with no-store", async () => {
    const { id } = await createOrg({ tier: "pro" });
    const { jar, csrf } = await operator();
    const res = await form(`/orgs/${id}/keys`, jar, { _csrf: csrf, name: "Dated", scopes: ["demo:read", "demo:write"], expiry: "custom", expires_at_date: "2099-01-31", limit: "10", window: "1m" });
    expect(res.status).toBe(201);
    expect(res.headers.get("cache-control")).toBe("no-store");
    const html = await res.text();
    const key = /id="new-key"[^>]*value="([^"]+)"/.exec(html)?.[1] ?? /value="([^"]+)"[^>]*id="new-key"/.exec(html)?.[1];
    expect(key).toMatch(/^kg_/);
    expect(html).toContain("You will not see this key again");
    const list = await (await adminFetch(`/orgs/${id}/keys`)).json<{ data: KeyData[] }>();
    expect(list.data).toHaveLength(1);
    expect(list.data[0]).toMatchObject({ name: "Dated", scopes: ["demo:read", "demo:write"], expires_at: "2099-01-31T23:59:59.000Z", rate_limit: { limit: 10, window: "1m" } });
    const detail = await (await page(`/orgs/${id}/keys/${list.data[0]!.id}`, jar)).text();
    expect(detail).not.toContain(key!);
    expect(detail).toContain("10 per 1m");
    // The key's own fields read as labelled rows, never as raw API field names.
    expect(detail).toContain('<dt>Limit overrides</dt><dd id="limit-overrides">10 per 1m</dd>');
    expect(detail).toContain("<dt>Age</dt><dd>0 days</dd>");
    expect(detail).not.toMatch(/<dt>(rate limits?|quota|age days|disabled at)<\/dt>/);
    const plain = await createKey(id);
    const plainDetail = await (await page(`/orgs/${id}/keys/${plain.id}`, jar)).text();
    expect(plainDetail).toContain('<dd id="limit-overrides"><span class="muted">none: the tier&#39;s limits</span></dd>');
  });

  it("changes an org's tier, audited as org.updated by the operator", async () => {
    const { id } = await createOrg({ tier: "free" });
    const { jar, csrf } = await operator();
    const res = await form(`/orgs/${id}/tier`, jar, { _csrf: csrf, tier: "enterprise" });
    expect(res.status).toBe(303);
    expect(res.headers.get("location")).toBe("/_keygate/console/orgs?notice=tier-changed");
    // Changed from page 3 of the list: back to page 3.
    const later = await form(`/orgs/${id}/tier`, jar, { _csrf: csrf, tier: "enterprise", page: "3" });
    expect(later.headers.get("location")).toBe("/_keygate/console/orgs?page=3&notice=tier-changed");
    const org = await (await adminFetch(`/orgs/${id}`)).json<{ data: { tier: string } }>();
    expect(org.data.tier).toBe("enterprise");
    const audit = await (await adminFetch(`/orgs/${id}/audit?action=org.updated`)).json<{ data: { actor: string }[] }>();
    expect(audit.data.map((e) => e.actor)).toEqual(["operator"]);
  });

  it("the operator on the Orgs page has Keys, Audit and Usage too: each asks for an org, then opens that page of it", async () => {
    const { id } = await createOrg();
    const { jar } = await operator();
    const orgs = await (await page("/orgs", jar)).text();
    const nav = /<nav aria-label="Console">[\s\S]*?<\/nav>/.exec(orgs)![0];
    for (const [name, href] of [["Orgs", "/_keygate/console/orgs"], ["Keys", "/_keygate/console/orgs?open=keys"], ["Audit", "/_keygate/console/orgs?open=audit"], ["Usage", "/_keygate/console/orgs?open=usage"]]) {
      expect(nav, name).toMatch(new RegExp(`<a href="${href!.replace(/[?]/g, "\\?")}"[^>]*>${name}</a>`));
    }
    for (const section of ["keys", "audit", "usage"]) {
      const html = await (await page(`/orgs?open=${section}`, jar)).text();
      expect(html).toContain("Choose an org to see its");
      expect(html).toContain(`href="/_keygate/console/orgs/${id}/${section}"`);
    }
    // Unknown sections fall back to keys.
    expect(await (await page(`/orgs?open=javascript:alert(1)`, jar)).text()).toContain(`href="/_keygate/console/orgs/${id}/keys"`);
  });

  it("an admin org key lands on its own org's keys and sees every page", async () => {
    const { id } = await createOrg();
    const admin = await createKey(id, { scopes: ["admin"] });
    const { res, jar } = await signIn(admin.key);
    expect(res.status).toBe(303);
    const home = await page("/", jar);
    expect(home.headers.get("location")).toBe(`/_keygate/console/orgs/${id}/keys`);
    for (const path of ["keys", "keys/new", "audit", "usage", `keys/${admin.id}`, `keys/${admin.id}/revoke`]) {
      const res = await page(`/orgs/${id}/${path}`, jar);
      expect(res.status, path).toBe(200);
      expect(await res.text(), path).not.toContain(admin.key);
    }
    expect((await page("/orgs", jar)).headers.get("location")).toBe("/_keygate/console");
  });
  it("a key holding keys:* signs in with the write view, as the API grants it keys:read and keys:write", async () => {
    const { id } = await createOrg();
    const wild = await createKey(id, { scopes: ["keys:*"] });
    const { res, jar } = await signIn(wild.key);
    expect(res.status).toBe(303);
    const keys = await page(`/orgs/${id}/keys`, jar);
    expect(keys.status).toBe(200);
    expect(await keys.text()).toContain(">Create key</button>");
    expect((await page(`/orgs/${id}/audit`, jar)).status).toBe(403);
  });

  it("creates a key with allowed IPs, shows them on the detail page and edits them (one per line; empty: anywhere)", async () => {
    const { id } = await createOrg();
    const { jar, csrf } = await operator();
    const created = await form(`/orgs/${id}/keys`, jar, { _csrf: csrf, name: "Fenced", scopes: "demo:read", expiry: "30d", allowed_ips: "203.0.113.7\r\n10.0.0.0/8\r\n" });
    expect(created.status).toBe(201);
    const [key] = (await (await adminFetch(`/orgs/${id}/keys`)).json<{ data: (KeyData & { allowed_ips: string[] })[] }>()).data;
    expect(key!.allowed_ips).toEqual(["203.0.113.7", "10.0.0.0/8"]);
    const detail = await (await page(`/orgs/${id}/keys/${key!.id}`, jar)).text();
    expect(detail).toMatch(/id="allowed-ips"><span class="code">203\.0\.113\.7, 10\.0\.0\.0\/8<\/span>/);
    const saved = await form(`/orgs/${id}/keys/${key!.id}/allowed-ips`, jar, { _csrf: csrfIn(detail), allowed_ips: "2001:db8::/32\n198.51.100.1" });
    expect(saved.status).toBe(303);
    expect(saved.headers.get("location")).toContain("notice=ips-saved");
    const after = await (await adminFetch(`/orgs/${id}/keys/${key!.id}`)).json<{ data: { allowed_ips: string[] } }>();
    expect(after.data.allowed_ips).toEqual(["2001:db8::/32", "198.51.100.1"]);
    const cleared = await form(`/orgs/${id}/keys/${key!.id}/allowed-ips`, jar, { _csrf: csrfIn(detail), allowed_ips: "" });
    expect(cleared.status).toBe(303);
    expect((await (await adminFetch(`/orgs/${id}/keys/${key!.id}`)).json<{ data: { allowed_ips: string[] } }>()).data.allowed_ips).toEqual([]);
    expect(await (await page(`/orgs/${id}/keys/${key!.id}`, jar)).text()).toMatch(/id="allowed-ips"><span class="muted">anywhere<\/span>/);
  });

  it("disables and re-enables a key from its detail page; the list filters status disabled", async () => {
    const { id } = await createOrg();
    const key = await createKey(id);
    const { jar, csrf } = await operator();
    const detail = await (await page(`/orgs/${id}/keys/${key.id}`, jar)).text();
    expect(detail).toContain('name="enabled" value="false"');
    const off = await form(`/orgs/${id}/keys/${key.id}/enabled`, jar, { _csrf: csrf, enabled: "false" });
    expect(off.status).toBe(303);
    expect(off.headers.get("location")).toContain("notice=disabled");
    expect((await (await adminFetch(`/orgs/${id}/keys/${key.id}`)).json<{ data: { status: string; enabled: boolean } }>()).data).toMatchObject({ status: "disabled", enabled: false });
    const shown = await (await page(`/orgs/${id}/keys/${key.id}?notice=disabled`, jar)).text();
    expect(shown).toContain('<span class="badge disabled">disabled</span>');
    expect(shown).toContain('name="enabled" value="true"');
    expect(shown).toMatch(/<dt>Disabled<\/dt><dd><time[^>]*>\d{4}-\d{2}-\d{2} \d{2}:\d{2} UTC<\/time><\/dd>/);
    const list = await (await page(`/orgs/${id}/keys?status=disabled`, jar)).text();
    expect(list).toContain('<option value="disabled" selected="">');
    expect(list).toContain(`data-key-id="${key.id}"`);
    const activeList = await (await page(`/orgs/${id}/keys?status=active`, jar)).text();
    expect(activeList).not.toContain(`data-key-id="${key.id}"`);
    const on = await form(`/orgs/${id}/keys/${key.id}/enabled`, jar, { _csrf: csrf, enabled: "true" });
    expect(on.status).toBe(303);
    expect(on.headers.get("location")).toContain("notice=enabled");
    expect((await (await adminFetch(`/orgs/${id}/keys/${key.id}`)).json<{ data: { status: string } }>()).data.status).toBe("active");
    const audit = await (await adminFetch(`/orgs/${id}/audit?key_id=${key.id}`)).json<{ data: { action: string }[] }>();
    expect(audit.data.map((e) => e.action)).toEqual(expect.arrayContaining(["key.disabled", "key.enabled"]));
  });

  it("a key with keys:write but not admin is offered only the scopes it can grant", async () => {
    const { id } = await createOrg();
    const writer = await createKey(id, { scopes: ["keys:read", "keys:write", "demo:read"] });
    const { jar } = await signIn(writer.key);
    const html = await (await page(`/orgs/${id}/keys/new`, jar)).text();
    const offered = [...html.matchAll(/name="scopes" value="([^"]+)"/g)].map((m) => m[1]).sort();
    expect(offered).toEqual(["demo:read", "keys:read", "keys:write"]);
    const { jar: opJar } = await signIn(env.ADMIN_TOKEN!);
    const all = await (await page(`/orgs/${id}/keys/new`, opJar)).text();
    expect([...all.matchAll(/name="scopes" value="([^"]+)"/g)].map((m) => m[1])).toEqual(expect.arrayContaining(["admin", "demo:write", "audit:read"]));
  });

  it("a keys:write key is not offered changes to a key holding a scope it lacks, and is to one within its scopes", async () => {
    const { id } = await createOrg();
    const writer = await createKey(id, { scopes: ["keys:read", "keys:write", "demo:read"] });
    const stronger = await createKey(id, { scopes: ["demo:write"] });
    const within = await createKey(id, { scopes: ["demo:read"] });
    const { jar } = await signIn(writer.key);
    const strongerPage = await (await page(`/orgs/${id}/keys/${stronger.id}`, jar)).text();
    for (const control of [">Rotate</button>", "/revoke\"", 'name="enabled"', "Save allowed IPs"]) expect(strongerPage).not.toContain(control);
    expect((await page(`/orgs/${id}/keys/${stronger.id}/revoke`, jar)).status).toBe(303);
    const withinPage = await (await page(`/orgs/${id}/keys/${within.id}`, jar)).text();
    for (const control of [">Rotate</button>", "/revoke\"", 'name="enabled"', "Save allowed IPs"]) expect(withinPage).toContain(control);
  });

  it("the Create key and Revoke buttons (GET forms with no fields) land on clean addresses, not `…?`", async () => {
    const { id } = await createOrg();
    const key = await createKey(id);
    const { jar } = await operator();
    for (const path of [`/orgs/${id}/keys/new`, `/orgs/${id}/keys/${key.id}/revoke`]) {
      const res = await page(`${path}?`, jar);
      expect(res.status, path).toBe(303);
      expect(res.headers.get("location"), path).toBe(`/_keygate/console${path}`);
      expect((await page(path, jar)).status, path).toBe(200);
    }
    // A real query that ends in "?" is not an empty one: answered as typed (here the API's error for that key id).
    const typed = await page(`/orgs/${id}/audit?key_id=abc?`, jar);
    expect(typed.status).not.toBe(303);
    expect(await typed.text()).toContain('value="abc?"');
  });

  it("a disabled (suspended) key can still be revoked and rotated from its page; a revoked key offers neither", async () => {
    const { id } = await createOrg();
    const key = await createKey(id);
    expect((await adminFetch(`/orgs/${id}/keys/${key.id}`, { method: "PATCH", json: { enabled: false } })).status).toBe(200);
    const { jar, csrf } = await operator();
    const detail = await (await page(`/orgs/${id}/keys/${key.id}`, jar)).text();
    expect(detail).toContain(`action="/_keygate/console/orgs/${id}/keys/${key.id}/revoke"`);
    expect(detail).toContain('<button type="submit">Rotate</button>');
    expect((await page(`/orgs/${id}/keys/${key.id}/revoke`, jar)).status).toBe(200);
    const revoked = await form(`/orgs/${id}/keys/${key.id}/revoke`, jar, { _csrf: csrf });
    expect(revoked.headers.get("location")).toContain("notice=revoked");
    expect((await (await adminFetch(`/orgs/${id}/keys/${key.id}`)).json<{ data: { status: string } }>()).data.status).toBe("revoked");
    const after = await (await page(`/orgs/${id}/keys/${key.id}`, jar)).text();
    expect(after).not.toContain(`/keys/${key.id}/revoke"`);
    expect(after).not.toContain(">Rotate</button>");
    // Its confirmation page is not offered either: back to the key.
    const confirm = await page(`/orgs/${id}/keys/${key.id}/revoke`, jar);
    expect(confirm.status).toBe(303);
    expect(confirm.headers.get("location")).toBe(`/_keygate/console/orgs/${id}/keys/${key.id}`);
  });

  it("a key already rotated (in its grace period) shows Rotated to its successor and no Rotate, but keeps Revoke", async () => {
    const { id } = await createOrg();
    const key = await createKey(id);
    const { jar, csrf } = await operator();
    const before = await (await page(`/orgs/${id}/keys/${key.id}`, jar)).text();
    expect(before).toContain('<button type="submit">Rotate</button>');
    expect(before).not.toContain("Rotated to");
    const rotated = await form(`/orgs/${id}/keys/${key.id}/rotate`, jar, { _csrf: csrf, grace_period: "1h" });
    expect(rotated.status).toBe(201);
    expect(await rotated.text()).toContain(`replaces ${key.id}`);
    const keys = (await (await adminFetch(`/orgs/${id}/keys`)).json<{ data: Array<{ id: string; rotated_from: string | null }> }>()).data;
    const successor = keys.find((k) => k.rotated_from === key.id)!.id;
    const res = await page(`/orgs/${id}/keys/${key.id}`, jar);
    expect(res.status).toBe(200);
    const detail = await res.text();
    const link = `<a href="/_keygate/console/orgs/${id}/keys/${successor}">${successor}</a>`;
    expect(detail).toContain(`<dt>Rotated to</dt><dd>${link}</dd>`);
    expect(detail).toContain(`This key was already rotated to ${link}`);
    expect(detail).not.toContain(">Rotate</button>");
    expect(detail).not.toContain(`/keys/${key.id}/rotate"`);
    expect(detail).toContain(`action="/_keygate/console/orgs/${id}/keys/${key.id}/revoke"`);
    // The successor itself is the key to rotate next.
    const next = await (await page(`/orgs/${id}/keys/${successor}`, jar)).text();
    expect(next).toContain('<button type="submit">Rotate</button>');
    expect(next).toContain(`<dt>Rotated from</dt>`);
    expect(next).not.toContain("Rotated to");
  });

  it("pages through keys and audit keeping the filters: Next/Previous carry status, since and action", async () => {
    const { id } = await createOrg();
    const made: string[] = [];
    // 26 keys, each revoked after it is made (an org may hold 25 active ones), and one left active.
    for (let i = 0; i < 26; i++) {
      const { id: keyId } = await createKey(id, { name: `paged ${String(i).padStart(2, "0")}` });
      made.push(keyId);
      if (i < 25) expect((await adminFetch(`/orgs/${id}/keys/${keyId}/revoke`, { method: "POST" })).status).toBe(200);
    }
    const { jar } = await operator();
    const rows = (html: string) => (html.match(/<tr data-key-id=/g) ?? []).length;
    const hrefOf = (html: string, text: string) => new RegExp(`<a href="([^"]+)">${text}</a>`).exec(html)?.[1]?.replace(/&amp;/g, "&");

    const first = await (await page(`/orgs/${id}/keys?status=revoked`, jar)).text();
    expect(rows(first)).toBe(20);
    expect(first).toContain("Page 1 of 2 (25 in all)");
    const next = hrefOf(first, "Next page")!;
    expect(new URL(next, "http://x").searchParams.get("status")).toBe("revoked");
    const second = await (await page(next.replace("/_keygate/console", ""), jar)).text();
    expect(rows(second)).toBe(5);
    expect(second).toContain("Page 2 of 2 (25 in all)");
    expect(hrefOf(second, "Next page")).toBeUndefined();
    expect(new URL(hrefOf(second, "Previous page")!, "http://x").searchParams.get("status")).toBe("revoked");
    expect(rows(await (await page(`/orgs/${id}/keys?status=active`, jar)).text())).toBe(1);
    // Past the last page: the keys exist, only not there; never "No keys yet".
    const beyond = await (await page(`/orgs/${id}/keys?status=revoked&page=9`, jar)).text();
    expect(beyond).not.toContain("yet.");
    expect(beyond).toContain("No keys on page 9; there are 25 keys with status revoked in all.");
    expect(hrefOf(beyond, "First page")).toBe(`/_keygate/console/orgs/${id}/keys?status=revoked`);

    // 26 created + 25 revoked + the org's creation = 52 audit events, 50 to a page.
    const today = new Date().toISOString().slice(0, 10);
    const audit = await (await page(`/orgs/${id}/audit?since=${today}`, jar)).text();
    expect(audit).toContain("Page 1 of 2 (52 in all)");
    const auditNext = new URL(hrefOf(audit, "Next page")!, "http://x");
    expect(auditNext.searchParams.get("since")).toBe(today);
    expect(auditNext.searchParams.get("page")).toBe("2");
    const revokedOnly = await (await page(`/orgs/${id}/audit?action=key.revoked`, jar)).text();
    expect(revokedOnly).toContain("Page 1 of 1 (25 in all)");
  }, 60_000);
});
