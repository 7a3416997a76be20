// An origin that answers with something no HTTP client should hand on (a status outside 100-599,
// a garbled status line): the client gets the gateway's 502 in the error envelope, never a 500 or a hang.
import { createServer, type Server } from "node:net";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startGateway, type LocalGateway } from "./npm-start.ts";

let origin: Server;
let gateway: LocalGateway;
let key: string;

/** Answers each request with the raw status line named by its path: /demo/raw/<code>. */
function rawOrigin(): Promise<Server> {
  const server = createServer((socket) => {
    socket.once("data", (chunk) => {
      const target = /^[A-Z]+ (\S+)/.exec(chunk.toString("latin1"))?.[1] ?? "/";
      const code = /^\/demo\/raw\/(\w+)/.exec(target)?.[1] ?? "200";
      socket.end(`HTTP/1.1 ${code} Whatever\r\ncontent-type: text/plain\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok`);
    });
    socket.on("error", () => {});
  });
  return new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve(server)));
}

beforeAll(async () => {
  origin = await rawOrigin();
  gateway = await startGateway({ ORIGIN_URL: `http://127.0.0.1:${(origin.address() as AddressInfo).port}` });
  const admin = (path: string, body: unknown) =>
    fetch(`${gateway.url}/_keygate/v1${path}`, { method: "POST", headers: { authorization: `Bearer ${gateway.token}`, "content-type": "application/json" }, body: JSON.stringify(body) }).then((res) => res.json() as Promise<{ data: { id: string; key: string } }>);
  const org = await admin("/orgs", { name: "origin responses org", tier: "pro" });
  key = (await admin(`/orgs/${org.data.id}/keys`, { name: "origin", scopes: ["demo:read"] })).data.key;
}, 180_000);

afterAll(async () => {
  await gateway?.stop();
  origin?.close();
});

describe("an origin's unusable answer", () => {
  it("a normal status passes through (the fixture works)", async () => {
    const res = await fetch(`${gateway.url}/demo/raw/201`, { headers: { "x-api-key": key } });
    expect(res.status).toBe(201);
    expect(await res.text()).toBe("ok");
  });

  it.each(["600", "999", "abc"])("status %s: 502 origin_unreachable in the envelope, not a 500", async (code) => {
    const res = await fetch(`${gateway.url}/demo/raw/${code}`, { headers: { "x-api-key": key } });
    const body = await res.text();
    expect(res.status, body).toBe(502);
    expect(JSON.parse(body).error.code).toBe("origin_unreachable");
  });
});
