import { execFileSync } from "node:child_process";
import { once } from "node:events";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer as createHttpServer, type IncomingHttpHeaders } from "node:http";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type LocalGateway, ROOT, start, startGateway, TOKEN, untilOutput } from "./npm-start.ts";
import { freePort } from "./redis-server.ts";

async function refusesConnections(port: number): Promise<boolean> {
  try {
    await fetch(`http://127.0.0.1:${port}/`, { signal: AbortSignal.timeout(2_000) });
    return false;
  } catch (err) {
    return (err as { cause?: { code?: string } }).cause?.code === "ECONNREFUSED";
  }
}

describe("npm start", () => {
  let port: number;
  let originPort: number;
  let run: ReturnType<typeof start>;

  beforeAll(async () => {
    port = await freePort();
    originPort = await freePort();
    run = start({ PORT: String(port), DEMO_ORIGIN_PORT: String(originPort) });
    await untilOutput(run, "keygate is running");
  }, 180_000);

  afterAll(() => {
    if (run.child.exitCode === null) run.child.kill("SIGKILL");
  });

  it("serves the gateway's health endpoint on PORT", async () => {
    const res = await fetch(`http://127.0.0.1:${port}/_keygate/v1/health`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ data: { status: "ok", config: "valid" } });
  });

  it("runs the bundled demo origin on DEMO_ORIGIN_PORT", async () => {
    const res = await fetch(`http://127.0.0.1:${originPort}/demo/ping?x=1`);
    expect(await res.json()).toMatchObject({ method: "GET", path: "/demo/ping", query: { x: "1" } });
  });

  it("prints the URLs and a copy-paste curl that creates an org and a key", () => {
    const banner = run.output().slice(run.output().indexOf("keygate is running"));
    expect(banner).toContain(`http://127.0.0.1:${port}/_keygate/v1/docs`);
    expect(banner).toContain("from the ADMIN_TOKEN environment variable");
    expect(banner).toContain(`curl -s -X POST http://127.0.0.1:${port}/_keygate/v1/orgs `);
    expect(banner).toContain(`'{"name":"Acme","tier":"free"}'`);
    expect(banner).toContain(`/_keygate/v1/orgs/$ORG/keys`);
    expect(banner).toContain(`'{"name":"demo","scopes":["demo:read"],"expires_in":"30d"}'`);
    // The operator chose this token; it is not echoed back into the terminal.
    expect(banner).not.toContain(TOKEN);
  });

  it("gives the worker the ADMIN_TOKEN from the environment as the operator token", async () => {
    const orgs = (token: string) => fetch(`http://127.0.0.1:${port}/_keygate/v1/orgs`, { headers: { authorization: `Bearer ${token}` } });
    expect((await orgs(TOKEN)).status).toBe(200);
    expect((await orgs("not-the-operator-token-0123456789")).status).toBe(401);
  });

  it("proxies a key's call to the demo origin, as the banner's curl commands do", async () => {
    const api = `http://127.0.0.1:${port}/_keygate/v1`;
    const post = async (path: string, body: unknown) => {
      const res = await fetch(api + path, {
        method: "POST",
        headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" },
        body: JSON.stringify(body),
      });
      expect(res.status).toBe(201);
      return ((await res.json()) as { data: { id: string; key: string } }).data;
    };
    const org = await post("/orgs", { name: "Acme", tier: "free" });
    const { key } = await post(`/orgs/${org.id}/keys`, { name: "demo", scopes: ["demo:read"], expires_in: "30d" });
    const res = await fetch(`http://127.0.0.1:${port}/demo/hello`, { headers: { authorization: `Bearer ${key}` } });
    expect(res.status).toBe(200);
    const echoed = (await res.json()) as { path: string; headers: Record<string, string> };
    expect(echoed.path).toBe("/demo/hello");
    expect(echoed.headers["x-keygate-org-id"]).toBe(org.id);
  });

  it("stops wrangler, workerd and the demo origin on Ctrl-C and exits 0", async () => {
    const exited = once(run.child, "exit");
    run.child.kill("SIGINT");
    const [code] = await exited;
    expect(code).toBe(0);
    expect(await refusesConnections(port)).toBe(true);
    expect(await refusesConnections(originPort)).toBe(true);
  }, 30_000);
});

describe("npm start with a port already taken", () => {
  let blocker: Server;
  let port: number;
  beforeAll(async () => {
    blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, "127.0.0.1", resolve));
    port = (blocker.address() as { port: number }).port;
  });
  afterAll(() => new Promise<void>((resolve) => blocker.close(() => resolve())));

  it("says which port is in use and exits 1 before starting anything", async () => {
    const run = start({ PORT: String(port) });
    const [code] = await once(run.child, "exit");
    expect(code).toBe(1);
    expect(run.output()).toContain(`127.0.0.1:${port} is already in use; set PORT to a free port`);
    expect(run.output()).not.toContain("applying D1 migrations");
    expect(run.output()).not.toMatch(/ReferenceError|\n\s+at /);
  });

  it("refuses a PORT that is not a port number with one line and exit 1, no stack trace", async () => {
    const run = start({ PORT: "80a" });
    const [code] = await once(run.child, "exit");
    expect(code).toBe(1);
    expect(run.output().trim()).toBe("keygate: PORT=80a is not a port number (1-65535)");
  });

  it("refuses a bad DEMO_ORIGIN_PORT, or the same port twice, before applying any migration", async () => {
    const free = String(await freePort());
    for (const [env, message] of [
      [{ PORT: free, DEMO_ORIGIN_PORT: "abc" }, "keygate: DEMO_ORIGIN_PORT=abc is not a port number (1-65535)"],
      [{ PORT: free, DEMO_ORIGIN_PORT: free }, `keygate: PORT and DEMO_ORIGIN_PORT are both ${free}: the gateway and the demo origin need a port each`],
    ] as const) {
      const run = start(env);
      const [code] = await once(run.child, "exit");
      expect(code).toBe(1);
      expect(run.output()).toContain(message);
      expect(run.output()).not.toContain("applying D1 migrations");
    }
  });
});

/** A scratch directory with a wrangler.toml of the operator's own, pointing at this checkout's worker and migrations. */
function operatorConfig(vars: string): string {
  const dir = mkdtempSync(join(tmpdir(), "keygate-start-config-"));
  const repo = readFileSync(join(ROOT, "wrangler.toml"), "utf8");
  const text = repo
    .slice(0, repo.indexOf("[vars]"))
    .replace('main = "src/index.ts"', `main = ${JSON.stringify(join(ROOT, "src", "index.ts"))}`)
    .replace('migrations_dir = "drizzle"', `migrations_dir = ${JSON.stringify(join(ROOT, "drizzle"))}`);
  writeFileSync(join(dir, "wrangler.toml"), `${text}[vars]\n${vars}\n`);
  return join(dir, "wrangler.toml");
}

describe("npm start with an invalid config", () => {
  it("refuses to start: the field named, exit 1, no stack trace, nothing started", async (context) => {
    const config = operatorConfig('KEY_PREFIX = "KG-"\n[vars.TIERS]\nfree = { limit = 5, window = "1m" }');
    context.onTestFinished(() => rmSync(dirname(config), { recursive: true, force: true }));
    const run = start({ PORT: String(await freePort()) }, ["--config", config]);
    const [code] = await once(run.child, "exit");
    expect(code).toBe(1);
    expect(run.output()).toContain("keygate: refusing to start: config INVALID");
    expect(run.output()).toContain("- KEY_PREFIX: must be 3-17 characters");
    expect(run.output()).not.toContain("applying D1 migrations");
    expect(run.output()).not.toMatch(/\n\s+at /);
  });
});

describe("npm start with an operator token no client could send", () => {
  it("refuses it from the environment, naming ADMIN_TOKEN and never printing it", async () => {
    const run = start({ PORT: String(await freePort()), ADMIN_TOKEN: "correct horse battery staple" });
    const [code] = await once(run.child, "exit");
    expect(code).toBe(1);
    expect(run.output()).toContain("- ADMIN_TOKEN: must be visible ASCII characters only");
    expect(run.output()).not.toContain("battery");
    expect(run.output()).not.toContain("applying D1 migrations");
  });
});

describe("npm start with the operator's own config", () => {
  let api: Server;
  let seen: Array<{ url: string; headers: IncomingHttpHeaders }>;
  let gateway: LocalGateway;
  let config: string;

  beforeAll(async () => {
    seen = [];
    api = createHttpServer((req, res) => {
      seen.push({ url: req.url!, headers: req.headers });
      res.setHeader("content-type", "application/json");
      res.end(JSON.stringify({ from: "the operator's API" }));
    });
    await new Promise<void>((resolve) => api.listen(0, "127.0.0.1", resolve));
    const apiUrl = `http://127.0.0.1:${(api.address() as { port: number }).port}`;
    config = operatorConfig(
      [
        `ORIGIN_URL = "${apiUrl}"`,
        '[vars.SCOPES]\n"reports:read" = "Read reports"',
        '[vars.TIERS]\nstarter = { limit = 100, window = "60s" }',
        '[[vars.ROUTES]]\nmethod = "GET"\npath = "/reports/:id"\nscopes = ["reports:read"]',
        // Dead: the rule above matches every request it would. npm start warns, as check-config does.
        '[[vars.ROUTES]]\nmethod = "GET"\npath = "/reports/summary"\nscopes = ["reports:read"]',
      ].join("\n"),
    );
    gateway = await startGateway({}, ["--config", config]);
  }, 180_000);

  afterAll(async () => {
    await gateway?.stop();
    await new Promise<void>((resolve) => api.close(() => resolve()));
    rmSync(dirname(config), { recursive: true, force: true });
  });

  it("prints check-config's warnings for a config that is valid but has a dead rule", () => {
    expect(gateway.output()).toContain("keygate: warning: ROUTES[2] (GET /reports/summary) is never used: ROUTES[1] (GET /reports/:id) comes first");
  });

  it("proxies to the config's ORIGIN_URL, says so, and starts no demo origin", () => {
    const output = gateway.output();
    expect(output).toMatch(/origin\s+http:\/\/127\.0\.0\.1:\d+\s+\(ORIGIN_URL from wrangler\.toml\)/);
    expect(output).not.toContain("demo origin listening");
  });

  it("builds the banner's commands from the config's own tier, scope and route, and they work", async () => {
    const banner = gateway.output().slice(gateway.output().indexOf("keygate is running"));
    expect(banner).toContain(`'{"name":"Acme","tier":"starter"}'`);
    expect(banner).toContain(`'{"name":"demo","scopes":["reports:read"],"expires_in":"30d"}'`);
    expect(banner).toContain(`curl -s ${gateway.url}/reports/1 -H "Authorization: Bearer $KEY"`);
    const post = async (path: string, body: unknown) => {
      const res = await fetch(`${gateway.url}/_keygate/v1${path}`, {
        method: "POST",
        headers: { authorization: `Bearer ${gateway.token}`, "content-type": "application/json" },
        body: JSON.stringify(body),
      });
      expect(res.status).toBe(201);
      return ((await res.json()) as { data: { id: string; key: string } }).data;
    };
    const org = await post("/orgs", { name: "Acme", tier: "starter" });
    const { key } = await post(`/orgs/${org.id}/keys`, { name: "demo", scopes: ["reports:read"], expires_in: "30d" });
    const res = await fetch(`${gateway.url}/reports/1`, { headers: { authorization: `Bearer ${key}` } });
    expect(await res.json()).toEqual({ from: "the operator's API" });
    expect(seen.at(-1)!.headers["x-keygate-org-id"]).toBe(org.id);
  });

  it("never puts the operator token on a command line, where ps shows it to every local user", () => {
    // This gateway's processes only: npm start and everything under it (wrangler, workerd).
    const table = execFileSync("ps", ["-eo", "pid=,ppid=,args="], { encoding: "utf8" })
      .split("\n")
      .map((line) => /^\s*(\d+)\s+(\d+)\s+(.*)$/.exec(line))
      .filter((match): match is RegExpExecArray => match !== null)
      .map(([, pid, ppid, args]) => ({ pid: Number(pid), ppid: Number(ppid), args: args! }));
    const ours = new Set([gateway.pid]);
    for (let grew = true; grew; ) {
      grew = false;
      for (const row of table) if (ours.has(row.ppid) && !ours.has(row.pid)) grew = Boolean(ours.add(row.pid));
    }
    const commandLines = table.filter((row) => ours.has(row.pid)).map((row) => row.args);
    expect(commandLines.some((args) => args.includes("wrangler") && args.includes("--env-file"))).toBe(true);
    expect(commandLines.join("\n")).not.toContain(gateway.token);
  });
});
