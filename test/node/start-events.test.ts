// SPEC §10: `npm start` hands WEBHOOK_URL, WEBHOOK_SECRET, GITHUB_SECRET_SCANNING_KEYS_URL and
// LEAKED_KEY_ACTION from its environment to the worker. Checked through what the worker then does:
// webhooks reach a loopback receiver, and a GitHub-signed report is judged with the keys it serves.
import { generateKeyPairSync, randomBytes, sign } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type LocalGateway, startGateway } from "./npm-start.ts";
import { type ReceivedWebhook, startLeakFixtures } from "./leak-fixtures.ts";

describe("npm start passes the leak and webhook settings through", () => {
  const secret = `whsec_${randomBytes(32).toString("base64")}`;
  const github = generateKeyPairSync("ec", { namedCurve: "prime256v1" });
  const identifier = randomBytes(32).toString("hex");
  let fixtures: Awaited<ReturnType<typeof startLeakFixtures>>;
  let gateway: LocalGateway;

  beforeAll(async () => {
    fixtures = await startLeakFixtures({ webhookSecret: secret });
    const pem = github.publicKey.export({ type: "spki", format: "pem" }).toString();
    await fetch(`${fixtures.url}/github/start/keys`, {
      method: "PUT",
      body: JSON.stringify({ document: { public_keys: [{ key_identifier: identifier, key: pem, is_current: true }] } }),
    });
    gateway = await startGateway({
      WEBHOOK_URL: `${fixtures.url}/webhooks`,
      WEBHOOK_SECRET: secret,
      GITHUB_SECRET_SCANNING_KEYS_URL: `${fixtures.url}/github/start/keys`,
      LEAKED_KEY_ACTION: "notify",
    });
  }, 180_000);

  afterAll(async () => {
    await gateway?.stop();
    await fixtures?.close();
  });

  const api = (path: string, init: RequestInit = {}) =>
    fetch(`${gateway.url}/_keygate/v1${path}`, { ...init, headers: { authorization: `Bearer ${gateway.token}`, "content-type": "application/json", ...init.headers } });

  it("delivers signed webhooks to WEBHOOK_URL and, with LEAKED_KEY_ACTION=notify, flags a reported key without revoking it", async () => {
    const org = ((await (await api("/orgs", { method: "POST", body: JSON.stringify({ name: "Events", tier: "free" }) })).json()) as { data: { id: string } }).data;
    const created = await api(`/orgs/${org.id}/keys`, { method: "POST", body: JSON.stringify({ name: "ci", scopes: ["demo:read"] }) });
    const { data: key } = (await created.json()) as { data: { id: string; key: string } };

    const body = JSON.stringify([{ token: key.key, type: "keygate_api_key", url: "https://github.com/o/r/blob/1/.env", source: "content" }]);
    const signature = sign("sha256", Buffer.from(body), github.privateKey).toString("base64");
    const report = await fetch(`${gateway.url}/_keygate/v1/secret-scanning/github`, {
      method: "POST",
      headers: { "content-type": "application/json", "github-public-key-identifier": identifier, "github-public-key-signature": signature },
      body,
    });
    expect(report.status).toBe(200);
    expect(((await report.json()) as { label: string }[])[0]!.label).toBe("true_positive");
    const status = ((await (await api(`/orgs/${org.id}/keys/${key.id}`)).json()) as { data: { status: string } }).data.status;
    expect(status).toBe("active");

    let got: ReceivedWebhook[] = [];
    for (const deadline = Date.now() + 30_000; Date.now() < deadline; await new Promise((r) => setTimeout(r, 250))) {
      got = (await (await fetch(`${fixtures.url}/webhooks/received?org_id=${org.id}`)).json()) as ReceivedWebhook[];
      if (got.length >= 2) break;
    }
    expect(got.map((d) => d.body?.type).sort()).toEqual(["key.created", "key.leaked"]);
    expect(got.every((d) => d.verified && d.status === 204)).toBe(true);
    expect(got.find((d) => d.body?.type === "key.leaked")?.body?.data).toMatchObject({ key_id: key.id, action: "notify" });
  });
});
