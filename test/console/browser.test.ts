// The console (SPEC §11) in a real browser: Chromium driven by playwright-core against one local
// `npm start`, the way an operator uses it. Each page is screenshotted into test/console/screenshots/
// (git-ignored) so a person can look at what the test saw.
import { existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { type Browser, type BrowserContext, chromium, type Locator, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startGateway, type LocalGateway } from "../node/npm-start.ts";
import { findProgram, SYSTEM_PROGRAMS } from "../system-programs.ts";

// Found the way `npm test` looks for it (and installs it where it can): test/system-programs.ts.
const CHROMIUM_PROGRAM = SYSTEM_PROGRAMS.find((entry) => entry.program === "chromium")!;
const CHROMIUM = process.env.CHROMIUM_PATH ?? findProgram(CHROMIUM_PROGRAM);
const SHOTS = fileURLToPath(new URL("./screenshots/", import.meta.url));
const CONSOLE = "/_keygate/console";

let gateway: LocalGateway;
let browser: Browser;

beforeAll(async () => {
  if (!CHROMIUM || !existsSync(CHROMIUM)) {
    throw new Error(
      `The console tests drive Chromium and found none (CHROMIUM_PATH, or ${[CHROMIUM_PROGRAM.program, ...(CHROMIUM_PROGRAM.also ?? [])].join(", ")} on PATH). Install it with \`sudo apt-get install -y ${CHROMIUM_PROGRAM.debian}\` (Debian/Ubuntu) or \`brew install ${CHROMIUM_PROGRAM.brew}\` (macOS), or set CHROMIUM_PATH to a Chromium or Chrome binary.`,
    );
  }
  mkdirSync(SHOTS, { recursive: true });
  [gateway, browser] = await Promise.all([
    startGateway(),
    chromium.launch({
      executablePath: CHROMIUM,
      args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
    }),
  ]);
}, 180_000);

afterAll(async () => {
  await browser?.close();
  await gateway?.stop();
});

/**
 * A fresh browser profile whose every request to another host is refused and recorded: the console must need none.
 * `problems` records what a person would not see but must not happen: a Content-Security-Policy violation (an inline
 * script or style, a foreign source), an uncaught script error, and any script dialog (Playwright dismisses dialogs
 * unasked, so an action guarded by confirm() would silently not happen).
 */
async function newContext(): Promise<{ context: BrowserContext; page: Page; foreign: string[]; problems: string[] }> {
  const context = await browser.newContext({ viewport: { width: 1200, height: 900 } });
  const foreign: string[] = [];
  const own = new URL(gateway.url).host;
  await context.route("**/*", (route) => {
    const url = new URL(route.request().url());
    if (url.host === own) return route.continue();
    foreign.push(url.href);
    return route.abort();
  });
  const page = await context.newPage();
  const problems: string[] = [];
  page.on("console", (message) => {
    if (message.type() === "error" && /Content Security Policy|Refused to/i.test(message.text())) problems.push(`console: ${message.text()}`);
  });
  page.on("pageerror", (error) => problems.push(`script error: ${error.message}`));
  page.on("dialog", (dialog) => problems.push(`dialog: ${dialog.type()} ${dialog.message()}`));
  return { context, page, foreign, problems };
}

/** Retries an assertion until it holds (pages update after navigation and the usage queue lags), then fails with its message. */
async function eventually(check: () => Promise<void>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await check();
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }
}
const hasText = (locator: Locator, text: string) => eventually(async () => expect(await locator.first().innerText()).toContain(text));
const visible = (locator: Locator, timeout = 10_000) => locator.first().waitFor({ state: "visible", timeout });
const count = (locator: Locator, n: number) => eventually(async () => expect(await locator.count()).toBe(n));
const attribute = (locator: Locator, name: string, pattern: RegExp) => eventually(async () => expect(await locator.getAttribute(name)).toMatch(pattern));

/** Usage reaches D1 through the usage queue in batches (seconds): the page is reloaded until its chart counts `n` requests. */
async function reloadUntilChartCounts(page: Page, chart: Locator, n: number): Promise<void> {
  for (const deadline = Date.now() + 60_000; Date.now() < deadline; ) {
    if ((await chart.getAttribute("aria-label"))?.includes(`: ${n} requests`)) break;
    await page.waitForTimeout(500);
    await page.reload();
  }
  await attribute(chart, "aria-label", new RegExp(`: ${n} requests in the last 24 hours`));
}

/** Every screenshotted page is also checked: each visible control has a label (or an aria-label), each button a name. */
async function shot(page: Page, name: string) {
  await page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
  if (name.endsWith("docs")) return;
  const unlabelled = await page.evaluate(`[...document.querySelectorAll("input:not([type=hidden]), select, textarea")]
    .filter((el) => el.labels.length === 0 && !el.getAttribute("aria-label")).map((el) => el.outerHTML)`);
  expect(unlabelled, name).toEqual([]);
  const unnamed = await page.evaluate(`[...document.querySelectorAll("button, a")].filter((el) => !(el.textContent || "").trim() && !el.getAttribute("aria-label")).map((el) => el.outerHTML)`);
  expect(unnamed, name).toEqual([]);
  // Each control is found by its label alone (Playwright's getByLabel matches a label that contains the text): a label
  // inside another ("Expiry date (for \"On a date\")" held the radio's "On a date") makes a person's and a test's
  // lookup ambiguous. Controls in a table row (Orgs' tier per org) are found within their row, as tables are read, but
  // must not be mistaken for a field outside the table either.
  const ambiguous = await page.evaluate(`(() => {
    const all = [...document.querySelectorAll("input:not([type=hidden]), select, textarea")];
    const controls = all.filter((el) => !el.closest("tr"));
    const nameOf = (el) => (el.getAttribute("aria-label") || (el.labels[0] && el.labels[0].textContent) || "").trim().toLowerCase();
    const names = controls.map(nameOf);
    const everyName = all.map(nameOf);
    return names.filter((name) => name && everyName.filter((other) => other.includes(name)).length > 1);
  })()`);
  expect(ambiguous, name).toEqual([]);
  // Every form that changes something (POST) carries the CSRF token; GET forms (filters, the buttons that open a page) change nothing.
  const tokenless = await page.evaluate(`[...document.forms].filter((f) => f.method === "post" && !(f.querySelector("input[name=_csrf]") || {}).value).map((f) => f.getAttribute("action"))`);
  expect(tokenless, name).toEqual([]);
}

function gatewayCall(key: string, path = "/demo/hello") {
  return fetch(`${gateway.url}${path}`, { headers: { authorization: `Bearer ${key}` } });
}

async function signIn(page: Page, credential: string) {
  await page.goto(`${gateway.url}${CONSOLE}`);
  await page.getByLabel("Operator token or API key").fill(credential);
  await page.getByRole("button", { name: "Sign in", exact: true }).click();
}

async function adminApi<T>(path: string, body?: unknown): Promise<T> {
  const res = await fetch(`${gateway.url}/_keygate/v1${path}`, {
    method: body === undefined ? "GET" : "POST",
    headers: { authorization: `Bearer ${gateway.token}`, "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  expect(res.ok, text).toBe(true);
  return (JSON.parse(text) as { data: T }).data;
}

describe("console in Chromium", () => {
  it("an operator manages an org's keys end to end: create, reveal, call, rotate, revoke, audit, usage", async () => {
    const { context, page, foreign, problems } = await newContext();

    // Sign in with the keyboard only: Tab to the field, type, Enter.
    await page.goto(`${gateway.url}${CONSOLE}`);
    expect(new URL(page.url()).pathname).toBe(`${CONSOLE}/sign-in`);
    await shot(page, "01-sign-in");
    for (let i = 0; i < 5 && (await page.evaluate("document.activeElement && document.activeElement.id")) !== "credential"; i++) await page.keyboard.press("Tab");
    await page.keyboard.type(gateway.token);
    await page.keyboard.press("Enter");
    await page.waitForURL(`**${CONSOLE}/orgs`);
    // Every navigation link SPEC §11 names, on the first page the operator sees.
    for (const name of ["Keys", "Audit", "Usage", "Orgs"]) await count(page.getByRole("link", { name, exact: true }), 1);

    const cookies = await context.cookies();
    const session = cookies.find((cookie) => cookie.name === "keygate_console")!;
    expect(session.httpOnly).toBe(true);
    expect(session.sameSite).toBe("Strict");
    expect(session.expires).toBeGreaterThan(Date.now() / 1000);
    expect(session.value).not.toContain(gateway.token);

    // Create an org and switch into it.
    const orgName = `Console org ${Date.now()}`;
    await page.getByLabel("Org name").fill(orgName);
    await page.getByLabel("Tier").selectOption("pro");
    await page.getByRole("button", { name: "Create org" }).click();
    await hasText(page.getByRole("status"), "The org was created");
    await shot(page, "02-orgs");
    await page.getByRole("link", { name: `Open ${orgName}` }).click();
    await page.waitForURL(`**/keys`);
    const orgId = /\/orgs\/([^/]+)\/keys/.exec(page.url())![1]!;
    for (const name of ["Keys", "Audit", "Usage", "Orgs"]) await count(page.getByRole("link", { name, exact: true }), 1);

    // Create a key with two scopes and a 30-day expiry.
    await page.getByRole("button", { name: "Create key", exact: true }).click();
    await page.getByLabel("Name").fill("Browser test key");
    await page.getByLabel("demo:read").check();
    await page.getByLabel("demo:write").check();
    await page.getByLabel("30 days").check();
    await shot(page, "03-create-key");
    await page.getByRole("button", { name: "Create key" }).click();
    await visible(page.getByText("You will not see this key again"));
    const key = await page.getByLabel("Your new API key").inputValue();
    expect(key).toMatch(/^kg_/);
    expect(page.url()).not.toContain(key);
    await page.getByRole("button", { name: "Copy", exact: true }).click();
    await hasText(page.locator("#copy-status"), "Copied to the clipboard.");
    await shot(page, "04-reveal");

    const created = (await adminApi<Array<{ id: string; scopes: string[]; expires_at: string }>>(`/orgs/${orgId}/keys`))[0]!;
    expect(created.scopes.sort()).toEqual(["demo:read", "demo:write"]);
    const days = (Date.parse(created.expires_at) - Date.now()) / 86_400_000;
    expect(days).toBeGreaterThan(29.9);
    expect(days).toBeLessThan(30.1);

    // The key works at the gateway; a few calls of each status class for the chart.
    expect((await gatewayCall(key)).status).toBe(200);
    expect((await gatewayCall(key)).status).toBe(200);
    expect((await gatewayCall(key, "/demo/status/404")).status).toBe(404);
    expect((await gatewayCall(key, "/demo/status/500")).status).toBe(500);

    // Key detail: the usage chart shows the calls once the usage queue has written them.
    await page.getByRole("link", { name: "I have stored it" }).click();
    await page.waitForURL(`**/keys/${created.id}`);
    expect(await page.content()).not.toContain(key);
    const chart = page.locator("svg.requests");
    await reloadUntilChartCounts(page, chart, 4);
    await count(page.locator("svg.requests rect.s2xx"), 1);
    await count(page.locator("svg.requests rect.s5xx"), 1);
    await visible(page.locator("svg.latency circle").first());
    await visible(page.getByRole("heading", { name: "Limits" }));
    await hasText(page.locator("section[aria-labelledby=limits-h]"), "pro: 600 per 1m");
    await shot(page, "05-key-detail");

    // Rotate with no grace period: the old key is refused at once, the new one works.
    await page.getByLabel("Grace period for the old key").selectOption("0s");
    await page.getByRole("button", { name: "Rotate", exact: true }).click();
    await visible(page.getByRole("heading", { name: "Key rotated" }));
    const rotated = await page.getByLabel("Your new API key").inputValue();
    expect(rotated).not.toBe(key);
    await shot(page, "06-rotated");
    expect((await gatewayCall(key)).status).toBe(401);
    expect((await gatewayCall(rotated)).status).toBe(200);

    // Revoke the new key, through the confirmation page that names it.
    await page.getByRole("link", { name: "I have stored it" }).click();
    await page.getByRole("button", { name: "Revoke", exact: true }).click();
    await visible(page.getByText("Revoke Browser test key"));
    await shot(page, "07-revoke-confirm");
    await page.getByRole("button", { name: "Revoke", exact: true }).click();
    await hasText(page.getByRole("status"), "The key was revoked");
    expect((await gatewayCall(rotated)).status).toBe(401);

    // Keys list with the status filter.
    await page.getByRole("link", { name: "Keys", exact: true }).click();
    await page.getByLabel("Status").selectOption("revoked");
    await page.getByRole("button", { name: "Filter" }).click();
    await count(page.locator("tbody tr"), 2);
    await shot(page, "08-keys");

    // Audit shows the three key events.
    await page.getByRole("link", { name: "Audit", exact: true }).click();
    const audit = page.locator("table.audit");
    for (const action of ["key.created", "key.rotated", "key.revoked"]) await hasText(audit, action);
    await page.getByLabel("Action").selectOption("key.rotated");
    await page.getByRole("button", { name: "Filter" }).click();
    await count(page.locator("table.audit tbody tr"), 1);
    await shot(page, "09-audit");

    await page.getByRole("link", { name: "Usage", exact: true }).click();
    await hasText(page.locator("table.usage"), "Browser test key");
    // The rotated key's call may still be on its way through the usage queue.
    await reloadUntilChartCounts(page, page.locator("svg.requests"), 5);
    await shot(page, "10-usage");

    expect(foreign).toEqual([]);
    expect(problems).toEqual([]);
    await context.close();
  }, 180_000);

  it("a wrong token gets a clear message and no session", async () => {
    const { context, page } = await newContext();
    await signIn(page, "not-the-operator-token-at-all");
    await hasText(page.getByRole("alert"), "That token or key was not accepted");
    await shot(page, "11-sign-in-refused");
    expect((await context.cookies()).some((cookie) => cookie.name === "keygate_console")).toBe(false);
    await context.close();
  });

  it("a keys:read key gets a read-only view, and a create it forges anyway is refused by the API", async () => {
    const org = await adminApi<{ id: string }>("/orgs", { name: `Read-only ${Date.now()}`, tier: "free" });
    const reader = await adminApi<{ id: string; key: string }>(`/orgs/${org.id}/keys`, { name: "reader", scopes: ["keys:read"] });
    const { context, page, problems } = await newContext();
    await signIn(page, reader.key);
    await page.waitForURL(`**/orgs/${org.id}/keys`);
    await visible(page.getByText("(read-only)"));
    await count(page.getByRole("button", { name: "Create key" }), 0);
    await count(page.getByRole("link", { name: "Orgs", exact: true }), 0);
    for (const name of ["Keys", "Usage"]) await count(page.getByRole("link", { name, exact: true }), 1);
    await shot(page, "12-read-only");
    // The key's own page: readable, with no control that would change it.
    await page.getByRole("link", { name: "reader", exact: true }).click();
    await page.waitForURL(`**/keys/${reader.id}`);
    await visible(page.getByRole("heading", { name: "Limits" }));
    for (const name of ["Rotate", "Revoke", "Disable", "Save allowed IPs"]) await count(page.getByRole("button", { name }), 0);
    await count(page.getByLabel("Grace period for the old key"), 0);
    await shot(page, "12b-read-only-key");
    expect(problems).toEqual([]);

    const csrf = await page.locator("input[name=_csrf]").first().inputValue();
    const res = await page.request.post(`${gateway.url}${CONSOLE}/orgs/${org.id}/keys`, { form: { _csrf: csrf, name: "forged", scopes: "demo:read", expiry: "30d" } });
    expect(res.status()).toBe(403);
    expect(await res.text()).toContain("insufficient_scope");
    expect(await adminApi<unknown[]>(`/orgs/${org.id}/keys`)).toHaveLength(1);
    await context.close();
  });

  it("an admin org key: its own org only, every control SPEC §11 names found by role and name, and signing out ends the session", async () => {
    const org = await adminApi<{ id: string }>("/orgs", { name: `Admin key org ${Date.now()}`, tier: "free" });
    const admin = await adminApi<{ id: string; key: string }>(`/orgs/${org.id}/keys`, { name: "org admin", scopes: ["admin"] });
    const { context, page, foreign, problems } = await newContext();
    await signIn(page, admin.key);
    await page.waitForURL(`**/orgs/${org.id}/keys`);
    for (const name of ["Keys", "Audit", "Usage"]) await count(page.getByRole("link", { name, exact: true }), 1);
    await count(page.getByRole("link", { name: "Orgs", exact: true }), 0);
    await count(page.getByRole("button", { name: "Sign out", exact: true }), 1);

    // Keys -> Create key (a button, as SPEC names it) -> the form's Create key -> reveal with Copy.
    await page.getByRole("button", { name: "Create key", exact: true }).click();
    await page.waitForURL(`**/orgs/${org.id}/keys/new`);
    await shot(page, "14-create-key-org-admin");
    await page.getByLabel("Name").fill("made by the org's admin key");
    await page.getByLabel("demo:read").check();
    // Typing a date chooses "Custom date" (the API's answer is about the date, not about two expiries chosen).
    await page.getByLabel("Expiry date").fill("2000-01-01");
    expect(await page.getByLabel("Custom date").isChecked()).toBe(true);
    await page.getByRole("button", { name: "Create key", exact: true }).click();
    await hasText(page.getByRole("alert"), "must be in the future");
    const day = new Date(Date.now() + 40 * 86_400_000).toISOString().slice(0, 10);
    await page.getByLabel("Custom date").check();
    await page.getByLabel("Expiry date").fill(day);
    await page.getByRole("button", { name: "Create key", exact: true }).click();
    await visible(page.getByText("You will not see this key again"));
    await count(page.getByRole("button", { name: "Copy", exact: true }), 1);
    const made = await page.getByLabel("Your new API key").inputValue();
    expect((await gatewayCall(made)).status).toBe(200);
    const stored = (await adminApi<Array<{ id: string; name: string; expires_at: string }>>(`/orgs/${org.id}/keys`)).find((key) => key.name === "made by the org's admin key")!;
    expect(stored.expires_at).toBe(`${day}T23:59:59.000Z`);

    // Rotate with a grace period: one click, no dialog; the old key keeps working through the grace period.
    await page.getByRole("link", { name: "I have stored it" }).click();
    await shot(page, "15-key-org-admin");
    await page.getByLabel("Grace period for the old key").selectOption("1h");
    await page.getByRole("button", { name: "Rotate", exact: true }).click();
    await visible(page.getByRole("heading", { name: "Key rotated" }));
    const rotated = await page.getByLabel("Your new API key").inputValue();
    expect((await gatewayCall(made)).status).toBe(200);
    expect((await gatewayCall(rotated)).status).toBe(200);
    await page.getByRole("link", { name: "I have stored it" }).click();
    await page.waitForURL((url) => url.pathname.startsWith(`${CONSOLE}/orgs/${org.id}/keys/key_`) && !url.pathname.endsWith(stored.id));
    const successorUrl = new URL(page.url()).pathname;

    // The old key, in its grace period: "Rotated to" its successor, no Rotate (the API would answer 409), Revoke kept.
    await page.goto(`${gateway.url}${CONSOLE}/orgs/${org.id}/keys/${stored.id}`);
    await hasText(page.locator("#rotated-note"), "This key was already rotated to");
    await count(page.getByRole("button", { name: "Rotate", exact: true }), 0);
    await count(page.getByRole("button", { name: "Revoke", exact: true }), 1);
    await shot(page, "15b-rotated-old-key");
    await page.locator("#rotated-note").getByRole("link").click();
    await page.waitForURL(`**${successorUrl}`);

    // Revoke: the button leads to a confirmation naming the key; Cancel changes nothing, its Revoke does.
    await page.getByRole("button", { name: "Revoke", exact: true }).click();
    await page.waitForURL(`**/revoke`);
    await visible(page.getByText("Revoke made by the org's admin key"));
    await page.getByRole("link", { name: "Cancel" }).click();
    expect((await gatewayCall(rotated)).status).toBe(200);
    await page.getByRole("button", { name: "Revoke", exact: true }).click();
    await page.getByRole("button", { name: "Revoke", exact: true }).click();
    await hasText(page.getByRole("status"), "The key was revoked");
    expect((await gatewayCall(rotated)).status).toBe(401);

    // Sign out; a copy of the session cookie taken before is refused afterwards.
    const copy = (await context.cookies()).filter((cookie) => cookie.name === "keygate_console");
    expect(copy).toHaveLength(1);
    await page.getByRole("button", { name: "Sign out", exact: true }).click();
    await hasText(page.getByRole("status"), "You are signed out");
    await context.addCookies(copy);
    await page.goto(`${gateway.url}${CONSOLE}/orgs/${org.id}/keys`);
    expect(new URL(page.url()).pathname).toBe(`${CONSOLE}/sign-in`);
    expect(foreign).toEqual([]);
    expect(problems).toEqual([]);
    await context.close();
  }, 60_000);

  it("a POST without the form's CSRF token is refused, signed in or not", async () => {
    const { context, page } = await newContext();
    await signIn(page, gateway.token);
    await page.waitForURL(`**${CONSOLE}/orgs`);
    for (const form of [{ name: "csrf-less", tier: "free" } as Record<string, string>, { name: "csrf-wrong", tier: "free", _csrf: "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA" }]) {
      const res = await page.request.post(`${gateway.url}${CONSOLE}/orgs`, { form });
      expect(res.status()).toBe(403);
    }
    const orgs = await adminApi<Array<{ name: string }>>("/orgs?per_page=100");
    expect(orgs.some((org) => org.name.startsWith("csrf-"))).toBe(false);
    await context.close();
  });

  it("an unknown console address is a 404 page in the console's look, with a way back, and no CSP violation", async () => {
    const { context, page, foreign, problems } = await newContext();
    await signIn(page, gateway.token);
    await page.waitForURL(`**${CONSOLE}/orgs`);
    const res = await page.goto(`${gateway.url}${CONSOLE}/orgs/x/y/z/w`);
    expect(res?.status()).toBe(404);
    await visible(page.getByRole("heading", { name: "Page not found", level: 1 }));
    await hasText(page.getByRole("alert"), "There is no console page at this address");
    // The console's stylesheet applied (its rules, not the browser's defaults), and the signed-in header kept.
    expect(await page.evaluate(`getComputedStyle(document.querySelector("main")).maxWidth`)).toBe("1100px");
    await count(page.getByRole("button", { name: "Sign out", exact: true }), 1);
    await shot(page, "16-not-found");
    await page.getByRole("link", { name: "Back to the console" }).click();
    await page.waitForURL(`**${CONSOLE}/orgs`);
    expect(foreign).toEqual([]);
    expect(problems).toEqual([]);
    await context.close();
  });

  it("the API docs render offline: the reference script comes from the worker", async () => {
    const { context, page, foreign, problems } = await newContext();
    await page.goto(`${gateway.url}/_keygate/v1/docs`);
    // Rendered by the script (the page's own HTML has only a <noscript> and an empty #app).
    await visible(page.getByRole("heading", { name: "keygate management API" }), 30_000);
    await visible(page.getByText("Create an org (operator only)"), 30_000);
    await shot(page, "13-docs");
    expect(foreign).toEqual([]);
    expect(problems).toEqual([]);
    // Without script: the page says so and links the OpenAPI document, which is served.
    const noscript = await page.evaluate(`document.querySelector("noscript") && document.querySelector("noscript").textContent`);
    expect(noscript).toContain("openapi.json");
    const spec = await page.request.get(`${gateway.url}/_keygate/v1/openapi.json`);
    expect(spec.status()).toBe(200);
    expect(((await spec.json()) as { openapi: string }).openapi).toMatch(/^3\.1/);
    await context.close();
  });
});
