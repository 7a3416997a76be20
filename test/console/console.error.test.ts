// Bad input through the console: the API's own validation answers, shown on the page with its fields.
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { adminFetch, createKey, createOrg, gatewayFetch } from "../harness";
import { CONSOLE, cookieHeader, csrfIn, form, page, signIn } from "./support";

async function operator() {
  const { jar } = await signIn(env.ADMIN_TOKEN!);
  return { jar, csrf: csrfIn(await (await page("/orgs", jar)).text()) };
}

describe("console: bad input", () => {
  it("shows the API's validation errors for a key without a name or scopes, and keeps what was typed", async () => {
    const { id } = await createOrg();
    const { jar, csrf } = await operator();
    const res = await form(`/orgs/${id}/keys`, jar, { _csrf: csrf, name: "", expiry: "30d", window: "90s" });
    expect(res.status).toBe(400);
    const html = await res.text();
    expect(html).toContain("validation_error");
    expect(html).toMatch(/<span class="code">name<\/span>/);
    expect(html).toMatch(/<span class="code">scopes<\/span>/);
    expect(html).toContain('value="90s"');
    expect((await (await adminFetch(`/orgs/${id}/keys`)).json<{ data: unknown[] }>()).data).toEqual([]);
  });

  it("refuses a scope outside the catalogue, a custom expiry without a date, and a limit the API rejects", async () => {
    const { id } = await createOrg();
    const { jar, csrf } = await operator();
    const unknown = await form(`/orgs/${id}/keys`, jar, { _csrf: csrf, name: "x", scopes: "nope:scope", expiry: "30d" });
    expect(unknown.status).toBe(400);
    expect(await unknown.text()).toContain("is not in the scope catalogue");
    const noDate = await form(`/orgs/${id}/keys`, jar, { _csrf: csrf, name: "x", scopes: "demo:read", expiry: "custom" });
    expect(noDate.status).toBe(400);
    expect(await noDate.text()).toContain("expires_at");
    const badLimit = await form(`/orgs/${id}/keys`, jar, { _csrf: csrf, name: "x", scopes: "demo:read", expiry: "30d", limit: "0", window: "60s" });
    expect(badLimit.status).toBe(400);
    expect(await badLimit.text()).toContain("rate_limit");
    expect((await (await adminFetch(`/orgs/${id}/keys`)).json<{ data: unknown[] }>()).data).toEqual([]);
  });

  it("refuses an unknown tier and an unknown grace period", async () => {
    const { id } = await createOrg();
    const { id: keyId } = await createKey(id);
    const { jar, csrf } = await operator();
    const tier = await form(`/orgs/${id}/tier`, jar, { _csrf: csrf, tier: "platinum" });
    expect(tier.status).toBe(400);
    expect(await tier.text()).toContain("must be one of");
    const grace = await form(`/orgs/${id}/keys/${keyId}/rotate`, jar, { _csrf: csrf, grace_period: "3w" });
    expect(grace.status).toBe(400);
    const key = await (await adminFetch(`/orgs/${id}/keys/${keyId}`)).json<{ data: { status: string } }>();
    expect(key.data.status).toBe("active");
  });

  it("a pasted credential with a line break or control character is refused on the sign-in page, not a 500", async () => {
    for (const credential of [`${env.ADMIN_TOKEN}\nsecond line`, "tok\u0000en-0123456789abcdef", "tok en-0123456789"]) {
      const { res, jar } = await signIn(credential);
      expect(res.status).toBe(400);
      expect(await res.text()).toContain("That is not a token or key");
      expect(jar.keygate_console ?? "").toBe("");
    }
  });

  it("a limit that is not digits is shown as the API's error, not read as another number", async () => {
    const { id } = await createOrg();
    const { jar, csrf } = await operator();
    for (const limit of ["1e3", "1.5", "ten"]) {
      const res = await form(`/orgs/${id}/keys`, jar, { _csrf: csrf, name: "x", scopes: "demo:read", expiry: "30d", limit, window: "60s" });
      expect(res.status).toBe(400);
      const html = await res.text();
      expect(html).toContain("validation_error");
      expect(html).toContain("rate_limit");
      expect(html).toContain(`value="${limit}"`);
    }
    expect((await (await adminFetch(`/orgs/${id}/keys`)).json<{ data: unknown[] }>()).data).toEqual([]);
  });

  it("audit filters the API cannot use are its error on the page, never the unfiltered trail shown as filtered", async () => {
    const { id } = await createOrg();
    const key = await createKey(id);
    const { jar } = await operator();
    for (const query of ["key_id=my%20key", "since=2026-13-45", "until=yesterday", "action=key.deleted"]) {
      const res = await page(`/orgs/${id}/audit?${query}`, jar);
      const html = await res.text();
      expect(html).not.toContain(key.id);
      expect(res.status === 400 ? html.includes("validation_error") : html.includes("No events match")).toBe(true);
    }
    const filtered = await page(`/orgs/${id}/audit?key_id=${key.id}&action=key.created`, jar);
    expect(filtered.status).toBe(200);
    expect(await filtered.text()).toContain(key.id);
  });

  it("sending the create form again (a reload of the page showing the key) creates no second key", async () => {
    const { id } = await createOrg();
    const { jar, csrf } = await operator();
    const html = await (await page(`/orgs/${id}/keys/new`, jar)).text();
    const submission = /name="submission" value="([^"]+)"/.exec(html)?.[1];
    expect(submission).toMatch(/^[A-Za-z0-9_-]{16,}$/);
    const fields = { _csrf: csrf, name: "ci", scopes: "demo:read", expiry: "30d", submission: submission! };
    const first = await form(`/orgs/${id}/keys`, jar, fields);
    expect(first.status).toBe(201);
    const again = await form(`/orgs/${id}/keys`, jar, fields);
    expect(again.status).toBe(303);
    expect(again.headers.get("location")).toBe(`/_keygate/console/orgs/${id}/keys?notice=already-created`);
    expect(await (await page(`/orgs/${id}/keys?notice=already-created`, jar)).text()).toContain("That form was already sent and its key created");
    expect((await (await adminFetch(`/orgs/${id}/keys`)).json<{ data: unknown[] }>()).data).toHaveLength(1);
    // A refused attempt keeps its token (nothing was created), so correcting the form still creates the key once.
    const fresh = /name="submission" value="([^"]+)"/.exec(await (await page(`/orgs/${id}/keys/new`, jar)).text())![1]!;
    const refused = await form(`/orgs/${id}/keys`, jar, { ...fields, name: "", submission: fresh });
    expect(refused.status).toBe(400);
    expect(await refused.text()).toContain(`name="submission" value="${fresh}"`);
    expect((await form(`/orgs/${id}/keys`, jar, { ...fields, name: "second", submission: fresh })).status).toBe(201);
    expect((await (await adminFetch(`/orgs/${id}/keys`)).json<{ data: unknown[] }>()).data).toHaveLength(2);
  });

  it("answers ids that cannot be ids, and a form over 64 KiB, without calling the API", async () => {
    const { jar, csrf } = await operator();
    expect((await page("/orgs/..%2F..%2Fetc/keys", jar)).status).toBe(404);
    const big = await form("/orgs", jar, { _csrf: csrf, name: "x".repeat(70_000), tier: "free" });
    expect(big.status).toBe(413);
  });
  it("a preset expiry with a typed date is refused as ambiguous, never either one guessed; the form is kept", async () => {
    const { id } = await createOrg();
    const { jar, csrf } = await operator();
    const res = await form(`/orgs/${id}/keys`, jar, { _csrf: csrf, name: "two expiries", scopes: "demo:read", expiry: "90d", expires_at_date: "2099-03-01" });
    expect(res.status).toBe(400);
    const html = await res.text();
    expect(html).toContain("choose one expiry");
    expect(html).toContain('value="2099-03-01"');
    expect((await (await adminFetch(`/orgs/${id}/keys`)).json<{ data: unknown[] }>()).data).toEqual([]);
  });

  it("a form body that cannot be read (broken multipart, an undecodable charset) is 400, never a 500, signed in or not", async () => {
    const { id } = await createOrg();
    const key = await createKey(id);
    const { jar } = await operator();
    const bodies: Array<[string, string]> = [
      ["multipart/form-data", "not multipart at all"],
      ["multipart/form-data; boundary=zz", "--zz\r\nbroken"],
      ["application/x-www-form-urlencoded; charset=utf-16", "name=x&tier=free"],
    ];
    for (const path of ["/sign-in", "/orgs", `/orgs/${id}/keys`, `/orgs/${id}/keys/${key.id}/rotate`, `/orgs/${id}/keys/${key.id}/revoke`]) {
      for (const [type, body] of bodies) {
        const res = await gatewayFetch(CONSOLE + path, { method: "POST", redirect: "manual", headers: { cookie: cookieHeader(path === "/sign-in" ? {} : jar), "content-type": type }, body });
        expect(res.status, `${path} ${type}`).toBe(400);
        expect(await res.text()).toContain("The form could not be read");
      }
    }
    const after = await (await adminFetch(`/orgs/${id}/keys/${key.id}`)).json<{ data: { status: string } }>();
    expect(after.data.status).toBe("active");
  });

  it("shows the API's error for malformed allowed IPs, keeps what was typed, and changes nothing", async () => {
    const { id } = await createOrg();
    const key = await createKey(id, { allowed_ips: ["203.0.113.7"] });
    const { jar, csrf } = await operator();
    const res = await form(`/orgs/${id}/keys/${key.id}/allowed-ips`, jar, { _csrf: csrf, allowed_ips: "10.0.0.0/33" });
    expect(res.status).toBe(400);
    const html = await res.text();
    expect(html).toContain("validation_error");
    expect(html).toContain("allowed_ips");
    expect(html).toContain("10.0.0.0/33</textarea>");
    expect((await (await adminFetch(`/orgs/${id}/keys/${key.id}`)).json<{ data: { allowed_ips: string[] } }>()).data.allowed_ips).toEqual(["203.0.113.7"]);
    const created = await form(`/orgs/${id}/keys`, jar, { _csrf: csrf, name: "x", scopes: "demo:read", expiry: "30d", allowed_ips: "not-an-ip" });
    expect(created.status).toBe(400);
    expect(await created.text()).toContain("allowed_ips");
    expect((await (await adminFetch(`/orgs/${id}/keys`)).json<{ data: unknown[] }>()).data).toHaveLength(1);
    const badToggle = await form(`/orgs/${id}/keys/${key.id}/enabled`, jar, { _csrf: csrf, enabled: "maybe" });
    expect(badToggle.status).toBe(400);
    expect((await (await adminFetch(`/orgs/${id}/keys/${key.id}`)).json<{ data: { status: string } }>()).data.status).toBe("active");
  });
});
