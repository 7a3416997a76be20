import { once } from "node:events";
import { createServer, type Server } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { start, TOKEN, untilOutput } from "./npm-start.ts";
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
  });
});
