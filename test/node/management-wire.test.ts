// The management API as raw bytes on the wire, against a real `npm start` gateway: requests no fetch()
// can build (a GET or HEAD with a body). SPEC §9: such a request is refused 400 invalid_request, never
// a 5xx, on the management API as on the gateway.
import { connect } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startGateway, type LocalGateway } from "./npm-start.ts";

let gateway: LocalGateway;
let orgId: string;

beforeAll(async () => {
  gateway = await startGateway();
  const res = await fetch(`${gateway.url}/_keygate/v1/orgs`, {
    method: "POST",
    headers: { authorization: `Bearer ${gateway.token}`, "content-type": "application/json" },
    body: JSON.stringify({ name: "management wire org", tier: "free" }),
  });
  orgId = ((await res.json()) as { data: { id: string } }).data.id;
}, 180_000);

afterAll(async () => {
  await gateway?.stop();
});

/** Writes `lines` (CRLF-joined) and `body` to a fresh connection, reads until the server closes. */
function raw(lines: string[], body = ""): Promise<{ status: number; head: string; body: string }> {
  const { port } = new URL(gateway.url);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), "127.0.0.1");
    let text = "";
    socket.setEncoding("utf8");
    socket.on("data", (chunk: string) => (text += chunk));
    socket.on("error", reject);
    socket.on("end", () => {
      const [head = "", rest = ""] = text.split("\r\n\r\n", 2);
      resolve({ status: Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1] ?? 0), head, body: rest });
    });
    socket.write([...lines, "Connection: close", "", ""].join("\r\n") + body);
  });
}

const errorCode = (body: string) => (JSON.parse(body.slice(body.indexOf("{"), body.lastIndexOf("}") + 1)) as { error: { code: string } }).error.code;

describe("management GET and HEAD with a body", () => {
  const paths = () => ["/_keygate/v1/orgs", `/_keygate/v1/orgs/${orgId}`, `/_keygate/v1/orgs/${orgId}/keys`, `/_keygate/v1/orgs/${orgId}/audit`, "/_keygate/v1/whoami", "/_keygate/v1/scopes"];

  it("GET with Content-Length and a JSON body: 400 invalid_request on every route, never a 5xx", async () => {
    for (const path of paths()) {
      const body = '{"a":1}';
      const res = await raw([`GET ${path} HTTP/1.1`, `Host: ${new URL(gateway.url).host}`, `Authorization: Bearer ${gateway.token}`, "Content-Type: application/json", `Content-Length: ${body.length}`], body);
      expect(res.status, `${path}: ${res.head}\n${res.body}`).toBe(400);
      expect(errorCode(res.body), path).toBe("invalid_request");
    }
  });

  it("HEAD with a body: 400, never a 5xx", async () => {
    for (const path of paths()) {
      const res = await raw([`HEAD ${path} HTTP/1.1`, `Host: ${new URL(gateway.url).host}`, `Authorization: Bearer ${gateway.token}`, "Content-Type: application/json", "Content-Length: 2"], "{}");
      expect(res.status, `${path}: ${res.head}`).toBe(400);
    }
  });

  it("GET with Content-Length: 0 is an ordinary GET", async () => {
    const res = await raw([`GET /_keygate/v1/orgs/${orgId} HTTP/1.1`, `Host: ${new URL(gateway.url).host}`, `Authorization: Bearer ${gateway.token}`, "Content-Type: application/json", "Content-Length: 0"]);
    expect(res.status, res.body).toBe(200);
  });
});
