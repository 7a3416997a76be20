// SPEC §10, GitHub secret scanning partner endpoint, end to end: keys made by the management API,
// reports signed with a P-256 key pair made here and published on a loopback keys endpoint.
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { generateKey } from "../../src/keys/format";
import { hashKey } from "../../src/keys/hash";
import { adminFetch, createKey, createOrg, keyFetch } from "../harness";
import { expectError, expectJson } from "../management/support";
import { keysEndpoint, leakItems, newGithubSigner, workerWith } from "./support";

interface Label {
  token_hash: string;
  token_type: string;
  label: "true_positive" | "false_positive";
}

interface AuditJson {
  action: string;
  actor: string;
  key_id: string | null;
  details: Record<string, unknown> | null;
}

async function auditOf(orgId: string): Promise<AuditJson[]> {
  const { data } = await expectJson<{ data: AuditJson[] }>(await adminFetch(`/orgs/${orgId}/audit?per_page=100`), 200);
  return data;
}

async function keyStatus(orgId: string, keyId: string): Promise<string> {
  const { data } = await expectJson<{ data: { status: string } }>(await adminFetch(`/orgs/${orgId}/keys/${keyId}`), 200);
  return data.status;
}

/** A worker with its own GitHub keys endpoint publishing one fresh signer. */
async function scanningSetup(overrides: Record<string, string> = {}) {
  const keys = keysEndpoint();
  const signer = await newGithubSigner();
  await keys.publish(signer);
  return { keys, signer, worker: workerWith({ GITHUB_SECRET_SCANNING_KEYS_URL: keys.url, ...overrides }) };
}

describe("POST /secret-scanning/github", () => {
  it("a valid report revokes the leaked key: the next gateway request gets 401 key_revoked", async () => {
    const { signer, worker } = await scanningSetup();
    const { id: orgId } = await createOrg();
    const { id: keyId, key } = await createKey(orgId);
    expect((await worker.gateway(key)).status).toBe(200);

    const body = JSON.stringify(leakItems([{ token: key, url: "https://github.com/octo/app/blob/f00/.env", source: "commit" }]));
    const labels = await expectJson<Label[]>(await worker.report(body, signer), 200);
    expect(labels).toEqual([{ token_hash: await hashKey(key), token_type: "keygate_api_key", label: "true_positive" }]);

    await expectError(await worker.gateway(key), 401, "key_revoked");
    // Everywhere else too: the report went through the management revoke (D1, KV purge).
    await expectError(await keyFetch(key, "/demo/items"), 401, "key_revoked");
    expect(await keyStatus(orgId, keyId)).toBe("revoked");

    const audit = await auditOf(orgId);
    const leaked = audit.filter((e) => e.action === "key.leaked");
    expect(leaked).toEqual([
      expect.objectContaining({
        actor: "github-secret-scanning",
        key_id: keyId,
        details: expect.objectContaining({ url: "https://github.com/octo/app/blob/f00/.env", source: "commit", type: "keygate_api_key", action: "revoke" }),
      }),
    ]);
    expect(audit.filter((e) => e.action === "key.revoked")).toEqual([
      expect.objectContaining({ actor: "github-secret-scanning", key_id: keyId, details: expect.objectContaining({ reason: "leaked" }) }),
    ]);
    // Never the token, anywhere in the audit trail.
    expect(JSON.stringify(audit)).not.toContain(key);
    expect(JSON.stringify(audit)).not.toContain(key.slice(3, 20));
  });

  it("repeating a report answers the same and changes nothing more", async () => {
    const { signer, worker } = await scanningSetup();
    const { id: orgId } = await createOrg();
    const { key } = await createKey(orgId);
    const body = JSON.stringify(leakItems([{ token: key }, { token: key }]));
    const first = await expectJson<Label[]>(await worker.report(body, signer), 200);
    const auditAfterFirst = await auditOf(orgId);
    const second = await expectJson<Label[]>(await worker.report(body, signer), 200);
    expect(second).toEqual(first);
    expect(first.map((l) => l.label)).toEqual(["true_positive", "true_positive"]);
    expect(await auditOf(orgId)).toEqual(auditAfterFirst);
    expect(auditAfterFirst.filter((e) => e.action === "key.leaked")).toHaveLength(1);
    expect(auditAfterFirst.filter((e) => e.action === "key.revoked")).toHaveLength(1);
  });

  it("malformed tokens are false positives and touch nothing", async () => {
    const { signer, worker } = await scanningSetup();
    const { id: orgId } = await createOrg();
    const { id: keyId, key } = await createKey(orgId);
    const badChecksum = key.slice(0, -1) + (key.endsWith("A") ? "B" : "A");
    const otherPrefix = "zz_" + key.slice(3);
    const body = JSON.stringify(leakItems([{ token: badChecksum }, { token: "not a key at all" }, { token: otherPrefix }]));
    const labels = await expectJson<Label[]>(await worker.report(body, signer), 200);
    expect(labels.map((l) => l.label)).toEqual(["false_positive", "false_positive", "false_positive"]);
    expect(labels[1]!.token_hash).toBe(await hashKey("not a key at all"));
    expect(await keyStatus(orgId, keyId)).toBe("active");
    expect((await auditOf(orgId)).filter((e) => e.action === "key.leaked")).toEqual([]);
  });

  it("a well-formed key this gateway never issued is a false positive; a revoked one of ours stays true_positive", async () => {
    const { signer, worker } = await scanningSetup();
    const { id: orgId } = await createOrg();
    const { id: keyId, key } = await createKey(orgId);
    await adminFetch(`/orgs/${orgId}/keys/${keyId}/revoke`, { method: "POST" });
    // Revoked keys are still ours: true_positive, and nothing more happens.
    const stranger = generateKey("kg_");
    const labels = await expectJson<Label[]>(await worker.report(JSON.stringify(leakItems([{ token: stranger }, { token: key }])), signer), 200);
    expect(labels.map((l) => l.label)).toEqual(["false_positive", "true_positive"]);
    expect((await auditOf(orgId)).filter((e) => e.action === "key.leaked")).toEqual([]);
  });

  it("LEAKED_KEY_ACTION=notify records key.leaked once per location and leaves the key working", async () => {
    const { signer, worker } = await scanningSetup({ LEAKED_KEY_ACTION: "notify" });
    const { id: orgId } = await createOrg();
    const { id: keyId, key } = await createKey(orgId);
    const body = JSON.stringify(leakItems([{ token: key, url: "https://github.com/a/b/blob/1/x" }]));
    expect((await expectJson<Label[]>(await worker.report(body, signer), 200))[0]!.label).toBe("true_positive");
    await worker.report(body, signer);
    await worker.report(JSON.stringify(leakItems([{ token: key, url: "https://github.com/a/b/blob/2/y" }])), signer);
    expect((await worker.gateway(key)).status).toBe(200);
    expect(await keyStatus(orgId, keyId)).toBe("active");
    const leaked = (await auditOf(orgId)).filter((e) => e.action === "key.leaked");
    expect(leaked.map((e) => e.details?.url).sort()).toEqual(["https://github.com/a/b/blob/1/x", "https://github.com/a/b/blob/2/y"]);
    expect(leaked.every((e) => e.details?.action === "notify")).toBe(true);
  });

  it("a suspended (disabled) key is still live: a leak report revokes it, so enabling it later cannot bring it back", async () => {
    const { signer, worker } = await scanningSetup();
    const { id: orgId } = await createOrg();
    const { id: keyId, key } = await createKey(orgId);
    expect((await adminFetch(`/orgs/${orgId}/keys/${keyId}`, { method: "PATCH", json: { enabled: false } })).status).toBe(200);
    const labels = await expectJson<Label[]>(await worker.report(JSON.stringify(leakItems([{ token: key }])), signer), 200);
    expect(labels.map((l) => l.label)).toEqual(["true_positive"]);
    expect(await keyStatus(orgId, keyId)).toBe("revoked");
    await expectError(await adminFetch(`/orgs/${orgId}/keys/${keyId}`, { method: "PATCH", json: { enabled: true } }), 409, "conflict");
    await expectError(await worker.gateway(key), 401, "key_revoked");
    const audit = await auditOf(orgId);
    expect(audit.filter((e) => e.action === "key.leaked").map((e) => e.key_id)).toEqual([keyId]);
    expect(audit.filter((e) => e.action === "key.revoked").map((e) => e.details?.reason)).toEqual(["leaked"]);
  });

  it("LEAKED_KEY_ACTION=notify records a leak of a suspended key too (it can be enabled again at any time)", async () => {
    const { signer, worker } = await scanningSetup({ LEAKED_KEY_ACTION: "notify" });
    const { id: orgId } = await createOrg();
    const { id: keyId, key } = await createKey(orgId);
    expect((await adminFetch(`/orgs/${orgId}/keys/${keyId}`, { method: "PATCH", json: { enabled: false } })).status).toBe(200);
    expect((await worker.report(JSON.stringify(leakItems([{ token: key }])), signer)).status).toBe(200);
    expect(await keyStatus(orgId, keyId)).toBe("disabled");
    expect((await auditOf(orgId)).filter((e) => e.action === "key.leaked").map((e) => e.details?.action)).toEqual(["notify"]);
  });

  it("a match in a deeply nested file (a URL over 2 KiB) is still revoked: one long URL must not refuse the whole report", async () => {
    const { signer, worker } = await scanningSetup();
    const { id: orgId } = await createOrg();
    const { id: keyId, key } = await createKey(orgId);
    const url = `https://github.com/octo/app/blob/0123abc/${"deeply/nested/".repeat(300)}.env`;
    expect(url.length).toBeGreaterThan(4000);
    expect((await worker.report(JSON.stringify(leakItems([{ token: key, url }])), signer)).status).toBe(200);
    expect(await keyStatus(orgId, keyId)).toBe("revoked");
    expect((await auditOf(orgId)).find((e) => e.action === "key.leaked")?.details?.url).toBe(url);
  });

  it("an item whose url or source is null or missing is still handled (recorded as \"\")", async () => {
    const { signer, worker } = await scanningSetup();
    const { id: orgId } = await createOrg();
    const first = await createKey(orgId);
    const second = await createKey(orgId);
    const body = JSON.stringify([{ token: first.key, type: "keygate_api_key", url: null, source: null }, { token: second.key, type: "keygate_api_key" }]);
    expect((await expectJson<Label[]>(await worker.report(body, signer), 200)).map((l) => l.label)).toEqual(["true_positive", "true_positive"]);
    expect(await keyStatus(orgId, first.id)).toBe("revoked");
    expect(await keyStatus(orgId, second.id)).toBe("revoked");
    expect((await auditOf(orgId)).filter((e) => e.action === "key.leaked").map((e) => [e.details?.url, e.details?.source])).toEqual([["", ""], ["", ""]]);
  });

  it("a key inside the reported url, source or type never reaches the audit trail: it is cut to its identifier", async () => {
    for (const action of ["revoke", "notify"]) {
      const { signer, worker } = await scanningSetup({ LEAKED_KEY_ACTION: action });
      const { id: orgId } = await createOrg();
      const { key, data } = await createKey(orgId);
      const item = { token: key, type: `keygate ${key}`, url: `https://gist.github.com/octo/1?k=${key}&again=${key}`, source: `content ${key}` };
      expect((await worker.report(JSON.stringify([item]), signer)).status).toBe(200);
      const audit = await auditOf(orgId);
      expect(JSON.stringify(audit)).not.toContain(key.slice(data.identifier.length));
      const leaked = audit.find((e) => e.action === "key.leaked")!;
      expect(leaked.details).toMatchObject({ url: `https://gist.github.com/octo/1?k=${data.identifier}…&again=${data.identifier}…`, source: `content ${data.identifier}…`, type: `keygate ${data.identifier}…` });
    }
  });

  it("a tampered body is refused 401 and nothing is revoked", async () => {
    const { signer, worker } = await scanningSetup();
    const { id: orgId } = await createOrg();
    const { id: keyId, key } = await createKey(orgId);
    const { key: other } = await createKey(orgId);
    const signed = JSON.stringify(leakItems([{ token: other }]));
    const sent = JSON.stringify(leakItems([{ token: key }]));
    await expectError(await worker.report(sent, signer, { sign: signed }), 401, "invalid_signature");
    expect(await keyStatus(orgId, keyId)).toBe("active");
  });

  it("missing, malformed or foreign signatures are refused 401 before any lookup", async () => {
    const { signer, worker } = await scanningSetup();
    const body = JSON.stringify(leakItems([{ token: "kg_x" }]));
    await expectError(await worker.report(body, null), 401, "invalid_signature");
    await expectError(await worker.report(body, null, { headers: { "github-public-key-identifier": signer.identifier } }), 401, "invalid_signature");
    await expectError(
      await worker.report(body, null, { headers: { "github-public-key-identifier": signer.identifier, "github-public-key-signature": "bm90IGRlcg==" } }),
      401,
      "invalid_signature",
    );
    // The operator token is no substitute for GitHub's signature.
    await expectError(await worker.report(body, null, { headers: { authorization: `Bearer ${env.ADMIN_TOKEN}` } }), 401, "invalid_signature");
    // Signed by a key GitHub does not list (someone else's key under GitHub's identifier).
    const impostor = { ...(await newGithubSigner()), identifier: signer.identifier };
    await expectError(await worker.report(body, impostor), 401, "invalid_signature");
  });

  it("a signed body that is not a report answers 400; an oversize one 413", async () => {
    const { signer, worker } = await scanningSetup();
    await expectError(await worker.report("{not json", signer), 400, "invalid_json");
    await expectError(await worker.report(JSON.stringify({ token: "x" }), signer), 400, "validation_error");
    await expectError(await worker.report(JSON.stringify([{ token: "x" }]), signer), 400, "validation_error");
    const tooMany = JSON.stringify(leakItems(Array.from({ length: 1001 }, (_, i) => ({ token: `t${i}` }))));
    await expectError(await worker.report(tooMany, signer), 400, "validation_error");
    const huge = JSON.stringify(leakItems([{ token: "x", url: "u".repeat(2 * 1024 * 1024) }]));
    // Refused on size alone: no signature is even looked at.
    await expectError(await worker.report(huge, null), 413, "payload_too_large");
  });

  it("a signed body sent as anything but JSON answers 415 unsupported_media_type (zod-openapi's media-type gate, in our envelope)", async () => {
    const { signer, worker } = await scanningSetup();
    const body = JSON.stringify(leakItems([{ token: "x" }]));
    await expectError(await worker.report(body, signer, { headers: { "content-type": "text/plain" } }), 415, "unsupported_media_type");
  });

  it("GitHub rotating its key (a new identifier) makes the worker refetch the keys once", async () => {
    const { keys, signer, worker } = await scanningSetup();
    const { id: orgId } = await createOrg();
    const first = await createKey(orgId);
    const second = await createKey(orgId);
    expect((await worker.report(JSON.stringify(leakItems([{ token: first.key }])), signer)).status).toBe(200);
    expect((await worker.report(JSON.stringify(leakItems([{ token: "x" }])), signer)).status).toBe(200);
    expect(await keys.fetches()).toBe(1); // cached, not fetched per request

    const rotated = await newGithubSigner();
    await keys.publish(rotated);
    expect((await worker.report(JSON.stringify(leakItems([{ token: second.key }])), rotated)).status).toBe(200);
    expect(await keys.fetches()).toBe(2);
    expect(await keyStatus(orgId, second.id)).toBe("revoked");

    // Made-up identifiers cannot make it fetch on every request.
    for (let i = 0; i < 3; i++) {
      await expectError(await worker.report(JSON.stringify(leakItems([{ token: "x" }])), await newGithubSigner()), 401, "invalid_signature");
    }
    expect(await keys.fetches()).toBe(2);
  });

  it("when GitHub's keys endpoint is down: 503 and nothing revoked", async () => {
    const { keys, signer, worker } = await scanningSetup();
    await keys.down(true);
    const { id: orgId } = await createOrg();
    const { id: keyId, key } = await createKey(orgId);
    const res = await worker.report(JSON.stringify(leakItems([{ token: key }])), signer);
    await expectError(res, 503, "signing_keys_unavailable");
    expect(await keyStatus(orgId, keyId)).toBe("active");
    expect((await worker.gateway(key)).status).toBe(200);

    await keys.down(false);
    expect((await worker.report(JSON.stringify(leakItems([{ token: key }])), signer)).status).toBe(200);
    expect(await keyStatus(orgId, keyId)).toBe("revoked");
  });

  it("counts bad signatures against the sender's AUTH_FAILURE_LIMIT, then refuses it 429 before reading anything", async () => {
    const { signer, worker } = await scanningSetup({ AUTH_FAILURE_LIMIT: "3/60s" });
    const from = { "cf-connecting-ip": `203.0.113.${Math.floor(Math.random() * 250)}` };
    const body = JSON.stringify(leakItems([{ token: "kg_x" }]));
    const ok = await worker.report(body, signer, { headers: from });
    expect(ok.status).toBe(200);
    expect(ok.headers.get("ratelimit-policy")).toBe('"auth_failures";q=3;w=60');
    const impostor = { ...(await newGithubSigner()), identifier: signer.identifier };
    for (let i = 0; i < 3; i++) await expectError(await worker.report(body, impostor, { headers: from }), 401, "invalid_signature");
    const refused = await worker.report(body, signer, { headers: from });
    await expectError(refused, 429, "too_many_auth_failures");
    expect(Number(refused.headers.get("retry-after"))).toBeGreaterThan(0);
    // Another address (GitHub's) is unaffected.
    expect((await worker.report(body, signer, { headers: { "cf-connecting-ip": "192.0.2.77" } })).status).toBe(200);
  });

  it("answers other methods 405 with Allow: POST", async () => {
    const res = await adminFetch("/secret-scanning/github");
    await expectError(res, 405, "method_not_allowed");
    expect(res.headers.get("allow")).toBe("POST");
  });

  it("is listed in the OpenAPI document with GitHub's signature as its only credential", async () => {
    const doc = await expectJson<{ paths: Record<string, { post?: { security?: unknown[] } }>; components: { securitySchemes: Record<string, unknown> } }>(await adminFetch("/openapi.json"), 200);
    expect(doc.paths["/_keygate/v1/secret-scanning/github"]?.post?.security).toEqual([{ githubSignature: [] }]);
    expect(doc.components.securitySchemes.githubSignature).toMatchObject({ type: "apiKey", in: "header", name: "Github-Public-Key-Signature" });
    expect(env.GITHUB_SECRET_SCANNING_KEYS_URL).toContain("127.0.0.1");
  });
});
