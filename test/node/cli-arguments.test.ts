// The operator CLI's command-line checks (SPEC §12: exit 2 for a usage error), run as a process against a
// recording HTTP server instead of a gateway: what is asserted is that a bad argument sends no request at
// all. A request that did go out would be answered like a list, as a real gateway answers the path the
// bad argument turned into (`orgs get ""` -> GET /orgs/), so the old behaviour shows as exit 0.
import { spawn } from "node:child_process";
import { createServer, type Server } from "node:http";
import { join } from "node:path";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { ROOT } from "./npm-start.ts";

const BIN = join(ROOT, "cli", "keygate.ts");
const TOKEN = "operator-token-0123456789";

let server: Server;
let url: string;
let requests: string[];

beforeAll(async () => {
  server = createServer((req, res) => {
    requests.push(`${req.method} ${req.url}`);
    res.setHeader("content-type", "application/json");
    res.end(JSON.stringify({ data: [{ id: "org_listed", name: "listed" }], pagination: { page: 1, per_page: 20, total: 1 } }));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
});

afterAll(async () => {
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

beforeEach(() => {
  requests = [];
});

function keygate(args: string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { cwd: ROOT, env: { ...process.env, KEYGATE_URL: url, KEYGATE_TOKEN: TOKEN, ...env }, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    child.once("error", reject);
    child.once("close", (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
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
