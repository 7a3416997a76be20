// `--data '<json>'`: the request body of create and update, run as a process against a stand-in API that records
// what was sent. One rule everywhere (README "CLI"): --data may carry any field, required ones included, and a
// flag (or the name argument) given too wins over the same field; a required field in neither is a usage error.
import { join } from "node:path";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { type FakeApi, startFakeApi } from "./fake-api.ts";
import { ROOT } from "./npm-start.ts";
import { type ProcessRun, runProcess } from "./wire.ts";

const BIN = join(ROOT, "cli", "keygate.ts");
const TOKEN = "operator-token-0123456789";
const KEY = `kg_${"AbCdEfGh12".repeat(5).slice(0, 49)}`;

let api: FakeApi;

beforeAll(async () => {
  api = await startFakeApi((_req, res) => {
    res.setHeader("content-type", "application/json");
    res.end(JSON.stringify({ data: { id: "key_1", name: "x", identifier: "kg_abcdefgh", last4: "wxyz", scopes: ["demo:read"], status: "active", key: KEY } }));
  });
});

afterAll(() => api.close());

beforeEach(() => {
  api.requests.length = 0;
  api.bodies.length = 0;
});

function keygate(args: string[]): Promise<ProcessRun> {
  return runProcess(process.execPath, [BIN, ...args], { KEYGATE_URL: api.url, KEYGATE_TOKEN: TOKEN, NO_COLOR: "1" });
}

/** Runs a command that must succeed with one request, and returns that request's JSON body. */
async function sent(args: string[]): Promise<Record<string, unknown>> {
  const run = await keygate(args);
  expect(run.code, run.stderr).toBe(0);
  expect(api.bodies).toHaveLength(1);
  return JSON.parse(api.bodies[0]!) as Record<string, unknown>;
}

const data = (body: Record<string, unknown>) => ["--data", JSON.stringify(body)];

describe("keygate keys create: name and scopes from the flags or from --data", () => {
  it("--data alone carries them: no --name or --scopes needed", async () => {
    expect(await sent(["keys", "create", "org_1", ...data({ name: "x", scopes: ["demo:read"] })])).toEqual({ name: "x", scopes: ["demo:read"] });
    expect(api.requests).toEqual(["POST /_keygate/v1/orgs/org_1/keys"]);
  });

  it("a flag given too wins over the same field in --data, and the other fields are kept", async () => {
    const body = await sent(["keys", "create", "org_1", "--scopes", "demo:write", ...data({ name: "x", scopes: ["demo:read"], meta: { team: "a" } })]);
    expect(body).toEqual({ name: "x", scopes: ["demo:write"], meta: { team: "a" } });
  });

  it("--name from the flag and scopes from --data", async () => {
    expect(await sent(["keys", "create", "org_1", "--name", "flag", ...data({ name: "data", scopes: ["demo:read"] })])).toEqual({ name: "flag", scopes: ["demo:read"] });
  });

  it("--expires-in or --expires-at replaces either expiry in --data (the API takes one of the two)", async () => {
    expect(await sent(["keys", "create", "org_1", "--expires-in", "30d", ...data({ name: "x", scopes: ["a"], expires_at: "2030-01-01T00:00:00Z" })])).toEqual({ name: "x", scopes: ["a"], expires_in: "30d" });
    api.bodies.length = 0;
    expect(await sent(["keys", "create", "org_1", "--expires-at", "2031-01-01T00:00:00Z", ...data({ name: "x", scopes: ["a"], expires_in: "90d" })])).toEqual({ name: "x", scopes: ["a"], expires_at: "2031-01-01T00:00:00Z" });
    api.bodies.length = 0;
    // No expiry flag: --data's expiry is sent as given.
    expect(await sent(["keys", "create", "org_1", ...data({ name: "x", scopes: ["a"], expires_in: "90d" })])).toEqual({ name: "x", scopes: ["a"], expires_in: "90d" });
  });

  it.each([
    [["--name", "x"], 'error: scopes (--scopes, or "scopes" in --data) is needed; nothing was sent'],
    [data({ name: "x" }), 'error: scopes (--scopes, or "scopes" in --data) is needed; nothing was sent'],
    [["--scopes", "demo:read", ...data({ meta: {} })], 'error: name (--name, or "name" in --data) is needed; nothing was sent'],
    [[], 'error: name (--name, or "name" in --data) and scopes (--scopes, or "scopes" in --data) are needed; nothing was sent'],
  ])("%j without a required field: exit 2, says how to give it, nothing sent", async (args, message) => {
    const run = await keygate(["keys", "create", "org_1", ...args]);
    expect(run.code).toBe(2);
    expect(run.stdout).toBe("");
    expect(run.stderr).toBe(`${message}\n`);
    expect(api.requests).toEqual([]);
  });
});

describe("keygate orgs create: name and tier from the argument and flag or from --data", () => {
  it("--data alone carries them", async () => {
    expect(await sent(["orgs", "create", ...data({ name: "Acme", tier: "free" })])).toEqual({ name: "Acme", tier: "free" });
    expect(api.requests).toEqual(["POST /_keygate/v1/orgs"]);
  });

  it("the name argument and the flags win over --data's fields", async () => {
    expect(await sent(["orgs", "create", "Acme", "--tier", "pro", "--max-active-keys", "5", ...data({ name: "x", tier: "free", max_active_keys: 9 })])).toEqual({ name: "Acme", tier: "pro", max_active_keys: 5 });
  });

  it("the argument and flags alone, as before", async () => {
    expect(await sent(["orgs", "create", "Acme", "--tier", "free"])).toEqual({ name: "Acme", tier: "free" });
  });

  it.each([
    [["Acme"], 'error: tier (--tier, or "tier" in --data) is needed; nothing was sent'],
    [["--tier", "free"], 'error: name (the name argument, or "name" in --data) is needed; nothing was sent'],
    [data({ tier: "free" }), 'error: name (the name argument, or "name" in --data) is needed; nothing was sent'],
    [[], 'error: name (the name argument, or "name" in --data) and tier (--tier, or "tier" in --data) are needed; nothing was sent'],
  ])("%j without a required field: exit 2, says how to give it, nothing sent", async (args, message) => {
    const run = await keygate(["orgs", "create", ...args]);
    expect(run.code).toBe(2);
    expect(run.stderr).toBe(`${message}\n`);
    expect(api.requests).toEqual([]);
  });

  it("--max-active-keys outside the API's 1-10000 is a usage error", async () => {
    const run = await keygate(["orgs", "create", "Acme", "--tier", "free", "--max-active-keys", "10001"]);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain("must be a whole number from 1 to 10000");
    expect(api.requests).toEqual([]);
  });

  it("a key in --data is refused before anything is sent, and not repeated", async () => {
    const run = await keygate(["orgs", "create", ...data({ name: `see ${KEY}`, tier: "free" })]);
    expect(run.code).toBe(2);
    expect(run.stderr).not.toContain(KEY);
    expect(api.requests).toEqual([]);
  });
});

describe("keygate keys update / orgs update: the same rule, flags win over --data", () => {
  it("keys update", async () => {
    expect(await sent(["keys", "update", "org_1", "key_1", "--scopes", "demo:write", "--disable", ...data({ scopes: ["demo:read"], enabled: true, name: "kept" })])).toEqual({ scopes: ["demo:write"], enabled: false, name: "kept" });
  });

  it("orgs update", async () => {
    expect(await sent(["orgs", "update", "org_1", "--tier", "pro", ...data({ tier: "free", name: "kept" })])).toEqual({ tier: "pro", name: "kept" });
  });
});
