// The operator CLI (SPEC §12) run as a process, the way an operator runs it, against one local
// gateway (`npm start`) for the whole file.
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ROOT, startGateway, type LocalGateway } from "./npm-start.ts";
import { freePort } from "./redis-server.ts";
import { type ProcessRun, runProcess } from "./wire.ts";

const BIN = join(ROOT, "cli", "keygate.ts");

type Run = ProcessRun;

let gateway: LocalGateway;

/** `keygate <args>` with KEYGATE_URL and KEYGATE_TOKEN pointing at the test gateway unless overridden. */
function keygate(args: string[], env: Record<string, string | undefined> = {}): Promise<Run> {
  return runProcess(process.execPath, [BIN, ...args], { KEYGATE_URL: gateway.url, KEYGATE_TOKEN: gateway.token, NO_COLOR: undefined, FORCE_COLOR: undefined, ...env });
}

/** Runs a --json command that must succeed and returns its parsed stdout. */
async function json<T = Record<string, unknown>>(args: string[]): Promise<T> {
  const run = await keygate([...args, "--json"]);
  expect(run.stderr.replace(/^Store this key now.*\n/m, "")).toBe("");
  expect(run.code).toBe(0);
  return JSON.parse(run.stdout) as T;
}

interface Key {
  id: string;
  key?: string;
  identifier: string;
  last4: string;
  status: string;
  scopes: string[];
}

beforeAll(async () => {
  gateway = await startGateway();
}, 180_000);

afterAll(async () => {
  await gateway?.stop();
});

describe("keygate --help", () => {
  it("lists every command, the environment variables and the exit codes", async () => {
    const run = await keygate(["--help"], { KEYGATE_URL: undefined, KEYGATE_TOKEN: undefined });
    expect(run.code).toBe(0);
    for (const text of ["orgs", "keys", "audit", "KEYGATE_URL", "KEYGATE_TOKEN", "--json", "Exit codes"]) expect(run.stdout).toContain(text);
  });

  it.each([
    "orgs list", "orgs create", "orgs get", "orgs update", "orgs usage",
    "keys list", "keys create", "keys get", "keys update", "keys rotate", "keys revoke", "keys limits", "keys usage",
    "audit",
  ])("%s --help explains the command and the global options, without a URL or token", async (command) => {
    const run = await keygate([...command.split(" "), "--help"], { KEYGATE_URL: undefined, KEYGATE_TOKEN: undefined });
    expect(run.code).toBe(0);
    expect(run.stdout).toContain(`Usage: keygate ${command}`);
    expect(run.stdout).toContain("--json");
  });
});

describe("npx keygate in the checkout", () => {
  it.each([
    ["npx", ["keygate", "--help"]],
    ["npm", ["exec", "keygate", "--", "--help"]],
  ])("%s runs the checkout's own bin on the project's Node", async (command, args) => {
    const run = await runProcess(command, args, {});
    expect(run.code).toBe(0);
    expect(run.stdout).toContain("Usage: keygate");
  });
});

describe("orgs", () => {
  it("create prints the org as a table for people, and get and update change it", async () => {
    const created = await keygate(["orgs", "create", "Acme CLI", "--tier", "free"]);
    expect(created.code).toBe(0);
    expect(created.stdout).toMatch(/^name\s+Acme CLI$/m);
    expect(created.stdout).toMatch(/^tier\s+free$/m);
    const id = /^id\s+(org_\w+)$/m.exec(created.stdout)![1]!;

    expect(await json(["orgs", "get", id])).toMatchObject({ id, name: "Acme CLI", tier: "free" });
    expect(await json(["orgs", "update", id, "--tier", "pro", "--max-active-keys", "5"])).toMatchObject({ id, tier: "pro", max_active_keys: 5 });
  });

  it("list prints aligned columns, no colour codes off a terminal, and --all --json every org", async () => {
    const { id } = await json<{ id: string }>(["orgs", "create", "Listed Org", "--tier", "pro"]);
    const table = await keygate(["orgs", "list", "--name", "Listed Org"]);
    expect(table.code).toBe(0);
    const [header, row] = table.stdout.split("\n");
    expect(header).toMatch(/^ID\s+NAME\s+TIER\s+MAX KEYS\s+CREATED$/);
    expect(row!.indexOf("Listed Org")).toBe(header!.indexOf("NAME"));
    expect(table.stdout).not.toContain("\x1b[");
    const all = await json<Array<{ id: string }>>(["orgs", "list", "--all"]);
    expect(all.map((org) => org.id)).toContain(id);
  });
});

describe("keys", () => {
  let org: string;
  beforeAll(async () => {
    org = (await json<{ id: string }>(["orgs", "create", "Keys CLI", "--tier", "free"])).id;
  });

  it("create prints the key once with a warning, and the key works at the gateway", async () => {
    const run = await keygate(["keys", "create", org, "--name", "CI pipeline", "--scopes", "demo:read,demo:write", "--expires-in", "90d", "--rate-limit", "100/60s", "--meta", '{"team":"payments"}']);
    expect(run.code).toBe(0);
    const key = /^key\s+(kg_\w+)$/m.exec(run.stdout)![1]!;
    expect(run.stdout.split(key).length).toBe(2);
    expect(run.stdout).toContain("Store this key now: it is shown only this once");
    expect(run.stdout).toMatch(/^rate_limit\.limit\s+100$/m);
    expect(run.stdout).toMatch(/^meta\.team\s+payments$/m);
    const call = await fetch(`${gateway.url}/demo/hello`, { headers: { authorization: `Bearer ${key}` } });
    expect(call.status).toBe(200);
  });

  it("create takes name and scopes from --data, and a flag given too wins", async () => {
    const org = (await json<{ id: string }>(["orgs", "create", "--data", JSON.stringify({ name: "From data", tier: "free" })])).id;
    const fromData = await json<Key & { name: string }>(["keys", "create", org, "--data", JSON.stringify({ name: "x", scopes: ["demo:read"] })]);
    expect(fromData).toMatchObject({ name: "x", scopes: ["demo:read"], status: "active" });
    const flagWins = await json<Key & { name: string }>(["keys", "create", org, "--scopes", "demo:write", "--data", JSON.stringify({ name: "y", scopes: ["demo:read"] })]);
    expect(flagWins).toMatchObject({ name: "y", scopes: ["demo:write"] });
  });

  it("create --json prints only data on stdout (with the key) and the warning on stderr", async () => {
    const run = await keygate(["keys", "create", org, "--name", "scripted", "--scopes", "demo:read", "--json"]);
    expect(run.code).toBe(0);
    const created = JSON.parse(run.stdout) as Key;
    expect(created.key).toMatch(/^kg_\w{49}$/);
    expect(created).toMatchObject({ name: "scripted", scopes: ["demo:read"], status: "active" });
    expect(run.stderr).toContain("Store this key now");
  });

  it("get, list and update never print a key, only identifier and last4", async () => {
    const created = await json<Key>(["keys", "create", org, "--name", "shown-once", "--scopes", "demo:read"]);
    const get = await keygate(["keys", "get", org, created.id]);
    const list = await keygate(["keys", "list", org, "--all"]);
    const update = await keygate(["keys", "update", org, created.id, "--name", "renamed", "--scopes", "demo:read", "--scopes", "demo:write"]);
    for (const run of [get, list, update]) {
      expect(run.code).toBe(0);
      expect(run.stdout).not.toContain(created.key);
    }
    expect(list.stdout).toContain(`${created.identifier}…${created.last4}`);
    expect(update.stdout).toMatch(/^scopes\s+demo:read,demo:write$/m);
    expect(await json(["keys", "update", org, created.id, "--tier-rate-limit"])).toMatchObject({ rate_limit: null });
  });

  it("create --allowed-ips, show, and update --any-ip / --disable / --enable change what the gateway admits", async () => {
    const created = await json<Key & { allowed_ips: string[] }>(["keys", "create", org, "--name", "restricted", "--scopes", "demo:read", "--allowed-ips", "192.0.2.7/24,2001:DB8::/32"]);
    expect(created.allowed_ips).toEqual(["192.0.2.0/24", "2001:db8::/32"]);
    const call = () => fetch(`${gateway.url}/demo/x`, { headers: { authorization: `Bearer ${created.key}` } });
    // This test's requests come from loopback, which the list leaves out.
    const refused = await call();
    expect(refused.status).toBe(403);
    expect(((await refused.json()) as { error: { code: string } }).error.code).toBe("ip_not_allowed");

    const show = await keygate(["keys", "show", org, created.id]);
    expect(show.code).toBe(0);
    expect(show.stdout).toMatch(/^allowed_ips\s+192\.0\.2\.0\/24,2001:db8::\/32$/m);
    expect(show.stdout).toMatch(/^enabled\s+true$/m);

    const opened = await keygate(["keys", "update", org, created.id, "--any-ip"]);
    expect(opened.stdout).toMatch(/^allowed_ips\s+anywhere$/m);
    expect((await call()).status).toBe(200);

    expect(await json(["keys", "update", org, created.id, "--disable"])).toMatchObject({ status: "disabled", enabled: false });
    const disabled = await call();
    expect(disabled.status).toBe(401);
    expect(((await disabled.json()) as { error: { code: string } }).error.code).toBe("key_disabled");
    expect(await json(["keys", "update", org, created.id, "--enable"])).toMatchObject({ status: "active", enabled: true });
    expect((await call()).status).toBe(200);
    expect((await json<Key[]>(["keys", "list", org, "--status", "disabled", "--all"])).map((key) => key.id)).not.toContain(created.id);
    expect(await json<Key[]>(["keys", "list", org, "--older-than", "90d", "--all"])).toEqual([]);
  });

  it("list pages: one page with a hint, --json keeps the hint off stdout, --all reads every page", async () => {
    const paged = (await json<{ id: string }>(["orgs", "create", "Paged", "--tier", "free"])).id;
    for (const name of ["k1", "k2", "k3"]) await json(["keys", "create", paged, "--name", name, "--scopes", "demo:read"]);
    const page = await keygate(["keys", "list", paged, "--per-page", "2"]);
    expect(page.stdout).toContain("page 1 of 2 (3 in all)");
    const second = await keygate(["keys", "list", paged, "--per-page", "2", "--page", "2", "--json"]);
    expect((JSON.parse(second.stdout) as Key[]).length).toBe(1);
    expect(second.stderr).toContain("page 2 of 2 (3 in all)");
    const all = await json<Key[]>(["keys", "list", paged, "--all"]);
    expect(all.map((key) => key.id).length).toBe(3);
    // Pages of 2, and of 1 (3 full pages, then an empty one): the same three keys, once each, in the same order.
    expect(await json<Key[]>(["keys", "list", paged, "--all", "--per-page", "2"])).toEqual(all);
    expect(await json<Key[]>(["keys", "list", paged, "--all", "--per-page", "1"])).toEqual(all);
  });

  it("rotate prints the new key once; the old one stops working", async () => {
    const old = await json<Key>(["keys", "create", org, "--name", "to-rotate", "--scopes", "demo:read"]);
    const run = await keygate(["keys", "rotate", org, old.id, "--expires-in", "30d"]);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^expires_at\s+\d{4}-/m);
    const fresh = /^key\s+(kg_\w+)$/m.exec(run.stdout)![1]!;
    expect(run.stdout).toMatch(new RegExp(`^rotated_from\\s+${old.id}$`, "m"));
    expect(run.stdout).toContain("Store this key now");
    expect((await fetch(`${gateway.url}/demo/x`, { headers: { authorization: `Bearer ${fresh}` } })).status).toBe(200);
    expect((await fetch(`${gateway.url}/demo/x`, { headers: { authorization: `Bearer ${old.key}` } })).status).toBe(401);
  });

  it("revoke asks for --yes off a terminal and revokes nothing without it", async () => {
    const target = await json<Key>(["keys", "create", org, "--name", "to-revoke", "--scopes", "demo:read"]);
    const refused = await keygate(["keys", "revoke", org, target.id]);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain("pass --yes to confirm");
    expect((await json<Key>(["keys", "get", org, target.id])).status).toBe("active");
    expect(await json(["keys", "revoke", org, target.id, "--yes"])).toMatchObject({ id: target.id, status: "revoked" });
    expect((await fetch(`${gateway.url}/demo/x`, { headers: { authorization: `Bearer ${target.key}` } })).status).toBe(401);
  });

  it("usage shows a key's totals, series and recent calls once the gateway has recorded them, and the org's per-key totals", async () => {
    const used = await json<Key>(["keys", "create", org, "--name", "used", "--scopes", "demo:read"]);
    expect((await fetch(`${gateway.url}/demo/usage-probe`, { headers: { authorization: `Bearer ${used.key}` } })).status).toBe(200);
    // Usage is aggregated in the isolate and goes through the queue: poll (bounded) until the call shows up.
    interface Usage {
      totals?: { count: number; by_status: Record<string, number> };
      series?: Array<{ count: number }>;
      recent?: Array<{ path?: string }>;
    }
    let usage: Usage = {};
    for (let attempt = 0; attempt < 80 && !usage.recent?.length; attempt++) {
      if (attempt > 0) await new Promise((resolve) => setTimeout(resolve, 500));
      usage = await json(["keys", "usage", org, used.id]);
    }
    expect(usage.recent?.[0]?.path).toBe("/demo/usage-probe");
    expect(usage.totals).toMatchObject({ count: 1, by_status: { "2xx": 1 } });
    expect(usage.series?.map((b) => b.count)).toEqual([1]);
    const table = await keygate(["keys", "usage", org, used.id, "--granularity", "minute"]);
    expect(table.code).toBe(0);
    expect(table.stdout).toMatch(/^calls\s+1 \(2xx 1, 3xx 0, 4xx 0, 5xx 0\)$/m);
    expect(table.stdout).toMatch(/^latency_ms\s+p50 \d+\s+p95 \d+\s+p99 \d+\s+max \d+$/m);
    expect(table.stdout).toMatch(/^series$/m);
    expect(table.stdout).toMatch(/^START\s+CALLS\s+2XX\s+3XX\s+4XX\s+5XX\s+P50 MS/m);
    expect(table.stdout).toMatch(/^recent$/m);
    expect(table.stdout).toMatch(/\/demo\/usage-probe\s+200/);

    const orgTable = await keygate(["orgs", "usage", org]);
    expect(orgTable.code).toBe(0);
    expect(orgTable.stdout).toMatch(/^keys$/m);
    expect(orgTable.stdout).toMatch(new RegExp(`^${used.id}\\s+1\\s+1\\s+0`, "m"));
    const bad = await keygate(["keys", "usage", org, used.id, "--granularity", "minute", "--since", "2020-01-01"]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain("validation_error");
  });

  it("limits needs an org and a key, and reports the API's 404 for an unknown key", async () => {
    const usage = await keygate(["keys", "limits", org]);
    expect(usage.code).toBe(2);
    expect(usage.stderr).toContain("missing required argument 'key'");
    const missing = await keygate(["keys", "limits", org, "key_doesnotexist0000000"]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/^error: not_found: /m);
    expect(missing.stdout).toBe("");
  });

  it("limits shows every policy with what is left, and reading spends nothing", async () => {
    const limited = await json<Key>(["keys", "create", org, "--name", "limits", "--scopes", "demo:read", "--rate-limit", "10/60s"]);
    expect((await fetch(`${gateway.url}/demo/limits-probe`, { headers: { authorization: `Bearer ${limited.key}` } })).status).toBe(200);
    type Limits = { key_id: string; policies: Array<{ name: string; limit: number; remaining: number }> };
    const first = await json<Limits>(["keys", "limits", org, limited.id]);
    expect(first.key_id).toBe(limited.id);
    expect(first.policies.map((p) => [p.name, p.limit, p.remaining])).toEqual([["default", 10, 9]]);
    expect((await json<Limits>(["keys", "limits", org, limited.id])).policies[0]!.remaining).toBe(9);
    const table = await keygate(["keys", "limits", org, limited.id]);
    expect(table.code).toBe(0);
    expect(table.stdout).toMatch(/^policies$/m);
    expect(table.stdout).toMatch(/default\s+window\s+10\s+60s\b.*\s9\s/);
  });
});

describe("audit", () => {
  it("shows an org's events as a table, and filters by action", async () => {
    const org = (await json<{ id: string }>(["orgs", "create", "Audited", "--tier", "free"])).id;
    const key = await json<Key>(["keys", "create", org, "--name", "audited", "--scopes", "demo:read"]);
    await json(["keys", "revoke", org, key.id, "--yes"]);
    const table = await keygate(["audit", org]);
    expect(table.code).toBe(0);
    expect(table.stdout).toMatch(/^TIME\s+ACTION\s+ACTOR\s+KEY\s+COUNT\s+DETAILS$/m);
    for (const action of ["org.created", "key.created", "key.revoked"]) expect(table.stdout).toContain(action);
    const revoked = await json<Array<{ action: string; key_id: string }>>(["audit", org, "--action", "key.revoked", "--all"]);
    expect(revoked).toEqual([expect.objectContaining({ action: "key.revoked", key_id: key.id })]);
  });
});

describe("API errors exit 1 with the code and message on stderr", () => {
  it("a validation error names the field", async () => {
    const run = await keygate(["orgs", "create", "Bad Tier", "--tier", "gold"]);
    expect(run.code).toBe(1);
    expect(run.stdout).toBe("");
    expect(run.stderr).toMatch(/^error: validation_error: /m);
    expect(run.stderr).toMatch(/^ {2}tier: must be one of: free, pro, enterprise$/m);
  });

  it("an unknown org is not_found, with --json too", async () => {
    const run = await keygate(["orgs", "get", "org_doesnotexist00000000", "--json"]);
    expect(run.code).toBe(1);
    expect(run.stdout).toBe("");
    expect(run.stderr).toMatch(/^error: not_found: org org_doesnotexist00000000 not found$/m);
  });

  it("a wrong token is unauthorized, and no token is ever printed", async () => {
    const token = "not-the-operator-token-0123456789";
    const run = await keygate(["orgs", "list", "--token", token]);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/^error: unauthorized: /m);
    expect(run.stdout + run.stderr).not.toContain(token);
    const ok = await keygate(["orgs", "list"]);
    expect(ok.stdout + ok.stderr).not.toContain(gateway.token);
  });

  it("a gateway that is not there: cannot reach, exit 1", async () => {
    const run = await keygate(["orgs", "list", "--url", `http://127.0.0.1:${await freePort()}`]);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/^error: cannot reach http:\/\/127\.0\.0\.1:\d+: ECONNREFUSED$/m);
  });
});

describe("usage errors exit 2 before any request", () => {
  it.each([
    ["an unknown command", ["tokens", "list"], "unknown command 'tokens'"],
    ["a missing argument", ["orgs", "get"], "missing required argument 'org'"],
    ["a missing required field", ["keys", "create", "org_x", "--name", "x"], 'scopes (--scopes, or "scopes" in --data) is needed'],
    ["a malformed rate limit", ["keys", "create", "org_x", "--name", "x", "--scopes", "a", "--rate-limit", "fast"], "must be <requests>/<window>"],
    ["an expiry preset outside the list", ["keys", "create", "org_x", "--name", "x", "--scopes", "a", "--expires-in", "2y"], "Allowed choices are 30d, 90d, 1y, never"],
    ["meta that is not a JSON object", ["keys", "create", "org_x", "--name", "x", "--scopes", "a", "--meta", "[1]"], "must be a JSON object"],
    ["a page that is not a number", ["orgs", "list", "--page", "two"], "must be a whole number"],
    ["--all with --page", ["orgs", "list", "--all", "--page", "2"], "--all reads every page: drop --page"],
    ["an update with nothing to change", ["orgs", "update", "org_x"], "nothing to change"],
    ["a key update with nothing to change", ["keys", "update", "org_x", "key_x"], "--allowed-ips, --any-ip, --disable, --enable"],
    ["--disable with --enable", ["keys", "update", "org_x", "key_x", "--disable", "--enable"], "cannot be used with option '--enable'"],
    ["--allowed-ips with --any-ip", ["keys", "update", "org_x", "key_x", "--allowed-ips", "10.0.0.0/8", "--any-ip"], "cannot be used with option '--any-ip'"],
    ["a command group alone", ["keys"], "Usage: keygate keys"],
  ])("%s", async (_, args, message) => {
    const run = await keygate(args);
    expect(run.code).toBe(2);
    expect(run.stdout).toBe("");
    expect(run.stderr).toContain(message);
  });

  it("no gateway URL or token: says which variable to set", async () => {
    const noUrl = await keygate(["orgs", "list"], { KEYGATE_URL: undefined });
    expect(noUrl.code).toBe(2);
    expect(noUrl.stderr).toContain("set KEYGATE_URL or pass --url");
    const noToken = await keygate(["orgs", "list"], { KEYGATE_TOKEN: undefined });
    expect(noToken.code).toBe(2);
    expect(noToken.stderr).toContain("set KEYGATE_TOKEN");
  });
});

describe("the README's commands, as written, against npm start", () => {
  const readme = readFileSync(join(ROOT, "README.md"), "utf8");
  /** The body of the first ```sh block after `heading` that contains `marker`. */
  const shBlock = (heading: string, marker: string) => {
    const section = readme.slice(readme.indexOf(`\n${heading}\n`));
    const block = [...section.matchAll(/```sh\n([\s\S]*?)```/g)].map((match) => match[1]!).find((text) => text.includes(marker));
    if (!block) throw new Error(`no sh block with ${marker} under ${heading}`);
    return block;
  };
  /**
   * Runs a bash script with `set -euo pipefail` and tracing (the first failing command fails it), in a scratch
   * directory, or in the checkout (where README says `npx keygate` works; outside it npx asks the registry).
   */
  const bash = async (script: string, env: Record<string, string> = {}, where: "scratch" | "checkout" = "scratch") => {
    const dir = where === "checkout" ? ROOT : mkdtempSync(join(tmpdir(), "keygate-readme-"));
    try {
      return await runProcess("bash", ["-c", `cd ${JSON.stringify(dir)} && set -euo pipefail -x\n${script}`], { NO_COLOR: "1", ...env });
    } finally {
      if (where === "scratch") rmSync(dir, { recursive: true, force: true });
    }
  };

  it("the walk-through's curl steps do what their comments say", async () => {
    const block = shBlock("## Walk-through", "curl -s -X POST $GW/_keygate/v1/orgs");
    const script = block.replace(/^GW=.*$/m, `GW=${gateway.url}`).replace(/^ADMIN_TOKEN=<.*$/m, `ADMIN_TOKEN=${gateway.token}`);
    expect(script).not.toContain("<the token");
    const run = await bash(script);
    expect(run.code, run.stderr).toBe(0);
    // 3: the call reaches the demo origin with the identity headers; 4: refused for its scope; 6: revoked.
    expect(run.stdout).toMatch(/^HTTP\/1\.1 200/m);
    expect(run.stdout.toLowerCase()).toContain("x-keygate-org-id");
    expect(run.stdout).toContain('"code":"insufficient_scope"');
    expect(run.stdout).toMatch(/"status": "revoked"/);
    expect(run.stdout).toMatch(/^HTTP\/1\.1 401/m);
    expect(run.stdout).toContain('"code":"key_revoked"');
  });

  it("the allowlist PATCH and the expiry-policy list answer 200 with what their text says", async () => {
    const org = (await json<{ id: string }>(["orgs", "create", "README one-liners", "--tier", "free"])).id;
    const key = await json<Key>(["keys", "create", org, "--name", "one-liner", "--scopes", "demo:read"]);
    const env = { GW: gateway.url, ADMIN_TOKEN: gateway.token, ORG: org, KEY_ID: key.id };
    const patch = await bash(shBlock("### IP allowlists: `allowed_ips`", "curl -X PATCH"), env);
    expect(patch.code, patch.stderr).toBe(0);
    expect((JSON.parse(patch.stdout) as { data: { allowed_ips: string[] } }).data.allowed_ips).toEqual(["203.0.113.0/24", "2001:db8::/32"]);
    const list = await bash(shBlock("### Expiry policy", "status=active,disabled"), env);
    expect(list.code, list.stderr).toBe(0);
    expect((JSON.parse(list.stdout) as { data: Key[] }).data.map((k) => k.id)).toEqual([key.id]);
  });

  it("every npx keygate line of the CLI section exits 0, the example key id standing for a real one", async () => {
    const block = shBlock("## CLI", "npx keygate orgs create");
    const placeholder = /key_8hQ2vN5mXcR1tLp0WzKa/g;
    expect(block).toMatch(placeholder);
    // The example id becomes a key of the org the block creates, made right after the ORG= line.
    const script = block
      .replace(placeholder, "$KEY_ID")
      .replace(/^(ORG=.*)$/m, "$1\nKEY_ID=$(npx keygate keys create $ORG --name readme --scopes demo:read --json | jq -r .id)");
    const run = await bash(script, { KEYGATE_URL: gateway.url, KEYGATE_TOKEN: gateway.token }, "checkout");
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr).not.toMatch(/^error:/m);
    const lines = block.split("\n").filter((line) => line.includes("npx keygate")).length;
    expect(run.stderr.split("\n").filter((line) => /^\++ npx keygate/.test(line)).length).toBe(lines + 1);
  });
});
