// The operator CLI's command-line checks (SPEC §12: exit 2 for a usage error), run as a process against a
// recording HTTP server instead of a gateway: what is asserted is that a bad argument sends no request at
// all. A request that did go out would be answered like a list, as a real gateway answers the path the
// bad argument turned into (`orgs get ""` -> GET /orgs/), so the old behaviour shows as exit 0.
import { spawn } from "node:child_process";
import { join } from "node:path";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { type FakeApi, startFakeApi } from "./fake-api.ts";
import { ROOT } from "./npm-start.ts";
import { type ProcessRun, runProcess } from "./wire.ts";

const BIN = join(ROOT, "cli", "keygate.ts");
const TOKEN = "operator-token-0123456789";

let api: FakeApi;
let url: string;
let requests: string[];
/** What the next request is answered with; by default a one-item list. `raw` is sent as is instead of `body` as JSON. */
let answer: { status: number; body?: unknown; raw?: string; headers?: Record<string, string> } | undefined;
/** Answers for the next requests, in order, before `answer`. */
let queue: NonNullable<typeof answer>[] = [];

beforeAll(async () => {
  api = await startFakeApi((_req, res) => {
    if (queue.length > 0) answer = queue.shift();
    res.setHeader("content-type", "application/json");
    for (const [name, value] of Object.entries(answer?.headers ?? {})) res.setHeader(name, value);
    res.statusCode = answer?.status ?? 200;
    res.end(answer?.raw ?? JSON.stringify(answer?.body ?? { data: [{ id: "org_listed", name: "listed" }], pagination: { page: 1, per_page: 20, total: 1 } }));
  });
  ({ url, requests } = api);
});

afterAll(() => api.close());

beforeEach(() => {
  requests.length = 0;
  answer = undefined;
  queue = [];
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

describe("keygate: the URL's scheme in any case", () => {
  it("HTTP://… is http://… (schemes are case-insensitive)", async () => {
    const run = await keygate(["orgs", "get", "org_1"], { KEYGATE_URL: url.replace("http://", "HTTP://") });
    expect(run.code).toBe(0);
    expect(requests).toEqual(["GET /_keygate/v1/orgs/org_1"]);
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

describe("keygate: a redirect is reported, never followed", () => {
  // fetch's default turned POST /orgs into GET /orgs on a 301/302 (printing the org list as the "created" org,
  // exit 0, nothing created) and re-sent a POST with its body to wherever a 307/308 pointed.
  it.each([301, 302, 303, 307, 308])("HTTP %i to an org create: exit 1, one request, nothing printed on stdout", async (status) => {
    answer = { status, raw: "", headers: { location: "https://elsewhere.example/_keygate/v1/orgs?x=1" } };
    const run = await keygate(["orgs", "create", "Acme", "--tier", "free"]);
    expect(run.code).toBe(1);
    expect(run.stdout).toBe("");
    expect(run.stderr).toContain(`answered HTTP ${status}, a redirect to https://elsewhere.example; not followed`);
    expect(requests).toEqual(["POST /_keygate/v1/orgs"]);
  });
});

describe("keygate: an error answer that is JSON but not the envelope is exit 1 with one line, never a crash", () => {
  it.each([
    ["null", "error: http_500: POST /_keygate/v1/orgs failed without an error envelope"],
    ["[]", "error: http_500: POST /_keygate/v1/orgs failed without an error envelope"],
    ['"oops"', "error: http_500: POST /_keygate/v1/orgs failed without an error envelope"],
    ['{"error":null}', "error: http_500: POST /_keygate/v1/orgs failed without an error envelope"],
    ['{"error":{"code":"teapot","message":{"nested":true},"details":[null,"text",{"field":1,"message":null}]}}', "error: teapot: \n  1: \n"],
  ])("%s", async (raw, expected) => {
    answer = { status: 500, raw };
    const run = await keygate(["orgs", "create", "Acme", "--tier", "free"]);
    expect(run.code).toBe(1);
    expect(run.stdout).toBe("");
    expect(run.stderr).toBe(`${expected}${expected.endsWith("\n") ? "" : "\n"}`);
  });
});

describe("keygate: an answer that is not keygate's JSON is exit 1 with one line naming the address", () => {
  it.each([
    [502, "<html><body>502 Bad Gateway</body></html>", "answered HTTP 502 with a non-JSON body: is http://127.0.0.1:"],
    [200, "<html>captive portal</html>", "answered HTTP 200 with a non-JSON body"],
    [204, "", "answered HTTP 204 with a non-JSON body"],
    [200, '{"items":[]}', 'answered without a "data" field'],
  ])("HTTP %i %j", async (status, raw, message) => {
    answer = { status, raw };
    const run = await keygate(["orgs", "list"]);
    expect(run.code).toBe(1);
    expect(run.stdout).toBe("");
    expect(run.stderr).toContain(message);
    expect(run.stderr.trim().split("\n")).toHaveLength(1);
  });
});

describe("keygate: --all reads every row once while rows are being written", () => {
  const events = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => ({ id: `evt_${from + i}`, action: "key.created" }));

  it("rows pushed onto the next page by new ones are printed once", async () => {
    // Page 1 holds evt_1..evt_100 of 150; five events are written before page 2 is read, so page 2 starts at evt_96.
    queue = [
      { status: 200, body: { data: events(1, 100), pagination: { page: 1, per_page: 100, total: 150 } } },
      { status: 200, body: { data: events(96, 150), pagination: { page: 2, per_page: 100, total: 155 } } },
    ];
    const run = await keygate(["audit", "org_1", "--all", "--json"]);
    expect(run.code).toBe(0);
    const ids = (JSON.parse(run.stdout) as { id: string }[]).map((event) => event.id);
    expect(ids).toEqual(events(1, 150).map((event) => event.id));
    expect(requests).toEqual(["GET /_keygate/v1/orgs/org_1/audit?page=1&per_page=100", "GET /_keygate/v1/orgs/org_1/audit?page=2&per_page=100"]);
  });

  it("a last page of exactly 100 ends with one empty read", async () => {
    queue = [
      { status: 200, body: { data: events(1, 100), pagination: { page: 1, per_page: 100, total: 100 } } },
      { status: 200, body: { data: [], pagination: { page: 2, per_page: 100, total: 100 } } },
    ];
    const run = await keygate(["audit", "org_1", "--all", "--json"]);
    expect(run.code).toBe(0);
    expect(JSON.parse(run.stdout)).toHaveLength(100);
    expect(requests).toHaveLength(2);
  });
});

describe("keygate: a 5xx with the envelope is exit 1 with its code, nothing on stdout", () => {
  it.each([
    [500, "internal_error", "internal error", undefined, "error: internal_error: internal error\n"],
    [503, "rate_limiter_unavailable", "the rate limiter is unavailable", "5", "error: rate_limiter_unavailable: the rate limiter is unavailable (retry after 5 s)\n"],
    [500, "gateway_misconfigured", "the gateway is misconfigured", undefined, "error: gateway_misconfigured: the gateway is misconfigured\n"],
  ])("HTTP %i %s", async (status, code, message, retryAfter, expected) => {
    answer = { status, body: { error: { code, message } }, headers: retryAfter ? { "retry-after": retryAfter } : {} };
    const run = await keygate(["keys", "list", "org_1", "--json"]);
    expect(run.code).toBe(1);
    expect(run.stdout).toBe("");
    expect(run.stderr).toBe(expected);
  });
});

describe("keygate: a 429 says when to retry", () => {
  it("prints Retry-After's seconds after the API's message", async () => {
    answer = { status: 429, headers: { "retry-after": "17" }, body: { error: { code: "rate_limited", message: "this credential's management rate limit is exhausted; retry later" } } };
    const run = await keygate(["orgs", "list"]);
    expect(run.code).toBe(1);
    expect(run.stderr).toBe("error: rate_limited: this credential's management rate limit is exhausted; retry later (retry after 17 s)\n");
  });
});

describe("keygate: no key or token is sent in a URL or body, or repeated in an error", () => {
  // 49 base62 characters after a prefix: any gateway's KEY_PREFIX, checksum or not.
  const key = `kg_${"AbCdEfGh12".repeat(5).slice(0, 49)}`;
  const otherPrefix = `mayo_ak_${"Zz09".repeat(13).slice(0, 49)}`;

  it.each([
    ["a key where a key id belongs", ["keys", "get", "org_1", key]],
    ["a key as the org", ["keys", "revoke", key, "key_1", "--yes"]],
    ["a key with another prefix", ["keys", "rotate", "org_1", otherPrefix]],
    ["a key as a list filter", ["keys", "list", "org_1", "--name", key]],
    ["a key as the audit key filter", ["audit", "org_1", "--key", key]],
    ["a key as a key name", ["keys", "create", "org_1", "--name", key, "--scopes", "demo:read"]],
    ["a key in meta", ["keys", "update", "org_1", "key_1", "--meta", JSON.stringify({ copy: `see ${otherPrefix}` })]],
    ["a key as a command", [key, "list"]],
    ["a key as a number", ["orgs", "list", "--page", key]],
    ["a key as a choice", ["keys", "create", "org_1", "--name", "x", "--scopes", "a", "--expires-in", key]],
    ["the token as an id", ["orgs", "get", TOKEN]],
    ["the token as a filter", ["orgs", "list", "--name", TOKEN]],
    ["the --token as an id", ["orgs", "get", "given-token-abcdef", "--token", "given-token-abcdef"]],
  ])("%s: exit 2, nothing sent, not echoed", async (_, args) => {
    const run = await keygate(args);
    expect(run.code).toBe(2);
    expect(requests).toEqual([]);
    for (const secret of [key, otherPrefix, TOKEN, "given-token-abcdef"]) expect(run.stdout + run.stderr).not.toContain(secret);
  });

  it("an API error quoting a key or the token is printed with the key cut to its identifier and the token replaced", async () => {
    answer = { status: 404, body: { error: { code: "not_found", message: `key ${key} not found for ${TOKEN}`, details: [{ field: "id", message: otherPrefix }] } } };
    const run = await keygate(["keys", "get", "org_1", "key_1"]);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain("error: not_found: key kg_AbCdEfGh… not found for <token>");
    expect(run.stderr).toContain("id: mayo_ak_Zz09Zz09…");
    for (const secret of [key, otherPrefix, TOKEN]) expect(run.stderr).not.toContain(secret);
  });

  it("a key or the token in KEYGATE_URL's path or query is refused, not sent in the request line and not repeated", async () => {
    for (const gateway of [`${url}/${key}`, `${url}/?k=${key}`]) {
      const run = await keygate(["orgs", "list"], { KEYGATE_URL: gateway });
      expect(run.code).toBe(2);
      expect(run.stderr).toContain("--url/KEYGATE_URL holds an API key");
      expect(run.stdout + run.stderr).not.toContain(key);
    }
    const withToken = await keygate(["orgs", "list"], { KEYGATE_URL: `${url}/${TOKEN}` });
    expect(withToken.code).toBe(2);
    expect(withToken.stderr).toContain("--url/KEYGATE_URL holds the token");
    expect(withToken.stderr).not.toContain(TOKEN);
    expect(requests).toEqual([]);
  });

  it("KEYGATE_URL and KEYGATE_TOKEN swapped: the token in KEYGATE_URL is not repeated", async () => {
    const run = await keygate(["orgs", "list"], { KEYGATE_URL: "swapped-token-0123456789", KEYGATE_TOKEN: url });
    expect(run.code).toBe(2);
    expect(run.stderr).toContain("--url/KEYGATE_URL must start with http:// or https://");
    expect(run.stderr).not.toContain("swapped-token-0123456789");
    expect(requests).toEqual([]);
  });
});

describe("keygate: every command's --help and an unknown option", () => {
  const key = `kg_${"AbCdEfGh12".repeat(5).slice(0, 49)}`;
  const COMMANDS = [
    "", "orgs", "keys", "orgs list", "orgs create", "orgs get org_1", "orgs update org_1", "orgs usage org_1",
    "keys list org_1", "keys create org_1", "keys get org_1 key_1", "keys show org_1 key_1", "keys update org_1 key_1",
    "keys rotate org_1 key_1", "keys revoke org_1 key_1", "keys limits org_1 key_1", "keys usage org_1 key_1", "audit org_1",
  ];
  const words = (command: string) => command.split(" ").filter(Boolean);

  it.each(COMMANDS)("keygate %s --help: exit 0, usage on stdout, without a URL or token", async (command) => {
    const run = await keygate([...words(command), "--help"], { KEYGATE_URL: "", KEYGATE_TOKEN: "" });
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^Usage: keygate/);
    expect(run.stderr).toBe("");
    expect(requests).toEqual([]);
  });

  it.each(COMMANDS)("keygate %s --bogus=<key>: exit 2, the unknown option named with the key cut, nothing sent", async (command) => {
    const run = await keygate([...words(command), `--bogus=${key}`]);
    expect(run.code).toBe(2);
    expect(run.stdout).toBe("");
    expect(run.stderr).toMatch(/^error: unknown option '--bogus=kg_AbCdEfGh…'\n/);
    expect(run.stderr).not.toContain(key);
    expect(requests).toEqual([]);
  });
});

describe("keygate | head: a reader that leaves early", () => {
  it("ends the CLI quietly with exit 0, not an EPIPE stack trace", async () => {
    const rows = Array.from({ length: 100 }, (_, i) => ({ id: `org_${i}`, name: "x".repeat(5000) }));
    answer = { status: 200, body: { data: rows, pagination: { page: 1, per_page: 100, total: 100 } } };
    const child = spawn(process.execPath, [BIN, "orgs", "list", "--json"], { cwd: ROOT, env: { ...process.env, KEYGATE_URL: url, KEYGATE_TOKEN: TOKEN }, stdio: ["ignore", "pipe", "pipe"] });
    let stderr = "";
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    // Like `head -c 10`: read one chunk, then close the pipe.
    child.stdout.once("data", () => child.stdout.destroy());
    const code = await new Promise<number | null>((resolve) => child.once("close", resolve));
    expect(stderr).toBe("");
    expect(code).toBe(0);
  });
});
