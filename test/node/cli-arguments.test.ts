// The operator CLI's command-line checks (SPEC §12: exit 2 for a usage error), run as a process against a
// recording HTTP server instead of a gateway: what is asserted is that a bad argument sends no request at
// all. A request that did go out would be answered like a list, as a real gateway answers the path the
// bad argument turned into (`orgs get ""` -> GET /orgs/), so the old behaviour shows as exit 0.
import { createServer, type Server } from "node:http";
import { join } from "node:path";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { ROOT } from "./npm-start.ts";
import { type ProcessRun, runProcess } from "./wire.ts";

const BIN = join(ROOT, "cli", "keygate.ts");
const TOKEN = "operator-token-0123456789";

let server: Server;
let url: string;
let requests: string[];
/** What the next request is answered with; by default a one-item list. */
let answer: { status: number; body: unknown } | undefined;

beforeAll(async () => {
  server = createServer((req, res) => {
    requests.push(`${req.method} ${req.url}`);
    res.setHeader("content-type", "application/json");
    res.statusCode = answer?.status ?? 200;
    res.end(JSON.stringify(answer?.body ?? { data: [{ id: "org_listed", name: "listed" }], pagination: { page: 1, per_page: 20, total: 1 } }));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
});

afterAll(async () => {
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

beforeEach(() => {
  requests = [];
  answer = undefined;
});

function keygate(args: string[], env: Record<string, string> = {}): Promise<ProcessRun> {
  return runProcess(process.execPath, [BIN, ...args], { KEYGATE_URL: url, KEYGATE_TOKEN: TOKEN, ...env });
}

describe("keygate: an id argument that is not one segment is a usage error, and nothing is sent", () => {
  it.each([
    ["orgs", "get", ""],
    ["orgs", "get", "."],
    ["orgs", "update", "..", "--name", "x"],
    ["orgs", "usage", " "],
    ["keys", "list", ""],
    ["keys", "get", "org_1", ""],
    ["keys", "revoke", "org_1", "..", "--yes"],
    ["keys", "rotate", "org_1", "."],
    ["keys", "update", "", "key_1", "--name", "x"],
    ["keys", "limits", "org_1", ""],
    ["audit", ""],
  ])("keygate %s %s %j ...", async (...args) => {
    const run = await keygate(args);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/invalid for argument '(org|key)'\. must be an id like org_… or key_…/);
    expect(run.stdout).toBe("");
    expect(requests).toEqual([]);
  });

  it("a real id still goes out as one encoded segment", async () => {
    const run = await keygate(["orgs", "get", "org_1"]);
    expect(run.code).toBe(0);
    expect(requests).toEqual(["GET /_keygate/v1/orgs/org_1"]);
  });
});

describe("keygate: a gateway URL or token that cannot make a request is a usage error naming the variable", () => {
  it.each([
    [{ KEYGATE_URL: "http://exa mple.com" }, "--url/KEYGATE_URL is not a valid URL"],
    [{ KEYGATE_URL: "http://127.0.0.1:1/?tenant=a" }, "--url/KEYGATE_URL must not have a query (?) or fragment (#)"],
    [{ KEYGATE_URL: "http://admin:hunter2@127.0.0.1:1" }, "--url/KEYGATE_URL must not contain a user name or password"],
    [{ KEYGATE_TOKEN: "line\nbreak-0123456789" }, "--token/KEYGATE_TOKEN must be visible ASCII characters only"],
  ])("%j", async (env, message) => {
    const run = await keygate(["orgs", "list"], env);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain(message);
    expect(run.stderr).not.toContain("hunter2");
    expect(run.stderr).not.toMatch(/\n\s+at /);
    expect(requests).toEqual([]);
  });
});

describe("keygate: text from the API is shown, never obeyed by the terminal", () => {
  // An org key with keys:write chooses key names and meta; the operator lists them. ESC [2J clears the screen,
  // OSC 52 writes the clipboard, CR rewrites the line, U+202E reverses what follows, C1 CSI (U+009B) is ESC [.
  const hostile = "ci\u001b[2J\u001b]52;c;ZWNobyBwd25lZA==\u0007\rok\u202eevil\u009b31m";
  const key = {
    id: "key_1", name: hostile, identifier: "kg_abcdefgh", last4: "wxyz", scopes: ["demo:read"], status: "active",
    created_at: "2026-01-01T00:00:00.000Z", expires_at: null, last_used_at: null, meta: { [`team${"\u001b"}[31m`]: hostile },
  };
  const raw = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e]/;

  it.each([
    [["keys", "list", "org_1"], { data: [key], pagination: { page: 1, per_page: 20, total: 1 } }],
    [["keys", "get", "org_1", "key_1"], { data: key }],
    [["keys", "get", "org_1", "key_1", "--json"], { data: key }],
    [["keys", "limits", "org_1", "key_1"], { data: { policies: [{ name: hostile, limit: 1 }] } }],
  ])("keygate %j", async (args, body) => {
    answer = { status: 200, body };
    const run = await keygate(args);
    expect(run.code).toBe(0);
    expect(run.stdout).not.toMatch(raw);
    expect(run.stdout).toContain("\\u001b[2J");
    if (args.includes("--json")) expect(JSON.parse(run.stdout).name).toBe(hostile);
  });

  it("an API error quoting a caller's text is printed escaped on stderr", async () => {
    answer = { status: 400, body: { error: { code: "validation_error", message: `bad ${hostile}`, details: [{ field: `meta.${hostile}`, message: hostile }] } } };
    const run = await keygate(["keys", "get", "org_1", "key_1"]);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain("error: validation_error: bad ci\\u001b[2J");
    expect(run.stderr).not.toMatch(raw);
  });
});

describe("keygate --version", () => {
  it("prints the checkout's version and exits 0, without a URL or token", async () => {
    const run = await keygate(["--version"], { KEYGATE_URL: "", KEYGATE_TOKEN: "" });
    expect(run.code).toBe(0);
    expect(run.stdout.trim()).toMatch(/^\d+\.\d+\.\d+$/);
    expect(requests).toEqual([]);
  });
});
