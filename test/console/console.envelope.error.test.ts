// The console's own error answers (unknown page, exception, invalid config, oversized form): a browser gets a page in
// the console's look, any other client SPEC's one JSON error envelope with the management API's code for the case.
import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import type { Env } from "../../src/env";
import worker from "../../src/index";
import { createKey, createOrg, gatewayFetch } from "../harness";
import { expectError } from "../management/support";
import { secretsIn } from "../secrets-scan";
import { CONSOLE, cookieHeader, csrfIn, form, page, signIn } from "./support";

/** What Chromium sends for a navigation. */
const BROWSER = "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,image/apng,*/*;q=0.8,application/signed-exchange;v=b3;q=0.7";
/** curl's default, a JSON client, and no Accept header at all. */
const NOT_BROWSERS: Array<Record<string, string>> = [{ accept: "*/*" }, { accept: "application/json" }, {}];

async function expectPage(res: Response, status: number, heading: string): Promise<string> {
  const html = await res.text();
  expect(res.status, html).toBe(status);
  expect(res.headers.get("content-type")).toMatch(/^text\/html/);
  expect(res.headers.get("cache-control")).toBe("no-store");
  expect(res.headers.get("content-security-policy")).toContain("default-src 'self'");
  expect(html).toMatch(/^<!doctype html><html lang="en">/);
  expect(html).toContain(`<link rel="stylesheet" href="${CONSOLE}/assets/console.css`);
  expect(html).toContain(`<h1>${heading}</h1>`);
  expect(html).toContain(`<a href="${CONSOLE}">Back to the console</a>`);
  // CSP-clean: no inline script or style anywhere on the page.
  expect(html).not.toMatch(/<script(?![^>]*\ssrc=)[^>]*>/);
  expect(html).not.toMatch(/<style|\sstyle=/);
  return html;
}

async function fetchWith(vars: Partial<Env>, path: string, init: RequestInit = {}): Promise<Response> {
  const ctx = createExecutionContext();
  const res = await worker.fetch(new Request(`http://gw.test${CONSOLE}${path}`, { redirect: "manual", ...init }), { ...env, ...vars } as Env, ctx);
  await waitOnExecutionContext(ctx);
  return res;
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe("console error answers", () => {
  it("an unknown console path is a 404 page for a browser and the not_found envelope for anything else", async () => {
    const { jar } = await signIn(env.ADMIN_TOKEN!);
    for (const path of ["/nope", "/orgs/x/y/z/w", "/orgs/..%2F..%2Fetc/keys", "/orgs/org_x/keys/bad%20id"]) {
      const get = (headers: Record<string, string>) => gatewayFetch(CONSOLE + path, { redirect: "manual", headers: { cookie: cookieHeader(jar), ...headers } });
      const html = await expectPage(await get({ accept: BROWSER }), 404, "Page not found");
      expect(html).toContain("There is no console page at this address");
      // Signed in: the page keeps the console's navigation and its sign-out form.
      expect(html).toContain("Sign out");
      for (const headers of NOT_BROWSERS) {
        const res = await get(headers);
        expect(res.headers.get("cache-control")).toBe("no-store");
        await expectError(res, 404, "not_found");
      }
    }
  });

  it("a key pasted into an unknown console path does not come back whole in the envelope", async () => {
    const { id } = await createOrg();
    const { key } = await createKey(id);
    const { jar } = await signIn(env.ADMIN_TOKEN!);
    const res = await page(`/nope/${key}`, jar);
    const body = await expectError(res, 404, "not_found");
    expect(body.error.message).toContain(key.slice(0, 11));
    expect(secretsIn(JSON.stringify(body))).toEqual([]);
  });

  it("an exception in a handler is a 500 page or internal_error, never the exception's text; the log holds no credential", async () => {
    const { id } = await createOrg();
    const { key } = await createKey(id, { scopes: ["admin"] });
    const { jar } = await signIn(key);
    expect(jar.keygate_console).toBeTruthy();
    // KV failing with a message that quotes both credentials (as Headers() quotes a bad header value whole).
    const secretMessage = `KV exploded near Bearer ${key} and ${env.ADMIN_TOKEN}`;
    const KEY_CACHE = new Proxy(env.KEY_CACHE, {
      get: () => () => {
        throw new Error(secretMessage);
      },
    });
    const logged = vi.spyOn(console, "error").mockImplementation(() => undefined);
    const html = await expectPage(await fetchWith({ KEY_CACHE }, `/orgs/${id}/keys`, { headers: { cookie: cookieHeader(jar), accept: BROWSER } }), 500, "Something went wrong");
    expect(html).not.toContain("KV exploded");
    for (const headers of NOT_BROWSERS) {
      const res = await fetchWith({ KEY_CACHE }, `/orgs/${id}/keys`, { headers: { cookie: cookieHeader(jar), ...headers } });
      expect(res.headers.get("cache-control")).toBe("no-store");
      const body = await expectError(res, 500, "internal_error");
      expect(JSON.stringify(body)).not.toContain("KV exploded");
    }
    const lines = logged.mock.calls.map((call) => call.join(" "));
    expect(lines.filter((line) => line.includes("keygate console: unhandled error") && line.includes("KV exploded"))).toHaveLength(4);
    expect(lines.flatMap(secretsIn)).toEqual([]);
    expect(lines.join("\n")).not.toContain(key);
  });

  it("an invalid config is a 500 gateway_misconfigured page or envelope; the bad field goes to the log only", async () => {
    const logged = vi.spyOn(console, "error").mockImplementation(() => undefined);
    const html = await expectPage(await fetchWith({ KEY_PREFIX: "Bad-Prefix" }, "/sign-in", { headers: { accept: BROWSER } }), 500, "The gateway is misconfigured");
    expect(html).not.toContain("KEY_PREFIX");
    // Nobody is signed in while the config cannot be read: no navigation, no sign-out form.
    expect(html).not.toContain("Sign out");
    for (const headers of NOT_BROWSERS) {
      const body = await expectError(await fetchWith({ KEY_PREFIX: "Bad-Prefix" }, "/sign-in", { headers }), 500, "gateway_misconfigured");
      expect(JSON.stringify(body)).not.toContain("KEY_PREFIX");
      expect(body.error.details).toBeUndefined();
    }
    expect(logged.mock.calls.flat().join("\n")).toContain("KEY_PREFIX");
  });

  it("a form over 64 KiB is a 413 page for a browser and payload_too_large for anything else", async () => {
    const { jar } = await signIn(env.ADMIN_TOKEN!);
    const csrf = csrfIn(await (await page("/orgs", jar)).text());
    const big = { _csrf: csrf, name: "x".repeat(70_000), tier: "free" };
    const html = await expectPage(await form("/orgs", jar, big, { accept: BROWSER }), 413, "The form is too large");
    expect(html).toContain("more than 64 KiB");
    for (const headers of NOT_BROWSERS) {
      const body = await expectError(await form("/orgs", jar, big, headers), 413, "payload_too_large");
      expect(body.error.message).toBe("the request body exceeds 65536 bytes");
    }
  });
});
