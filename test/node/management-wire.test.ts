// The management API as raw bytes on the wire, against a real `npm start` gateway: requests no fetch()
// can build (a GET or HEAD with a body). SPEC §9: such a request is refused 400 invalid_request, never
// a 5xx, on the management API as on the gateway.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startGateway, type LocalGateway } from "./npm-start.ts";
import { rawRequest } from "./wire.ts";

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

const raw = (lines: string[], body = "") => rawRequest(gateway.url, lines, body);

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
