// "Responses match the OpenAPI document": every operation is called the way a client would (happy paths
// with every optional part filled: limits, quotas, meta, allowed IPs, usage after real traffic, audit with
// auth.failed rows, disabled, revoked and rotated keys, and some refusals), and each answer's body is checked
// against the schema the document declares for that operation and status: types, required and unknown
// properties, enums, string lengths and patterns, number and array bounds, date-time format. A field the
// handler adds, drops, renames or fills with the wrong type fails here, whatever the zod types said.
import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { adminFetch, createKey, createOrg, gatewayFetch, keyFetch, MANAGEMENT, type TestInit } from "../harness";
import { keysEndpoint, leakItems, newGithubSigner, workerWith } from "../leaks/support";
import { type OpenApiDocument, problems } from "./openapi_schema";

let doc: OpenApiDocument;

beforeAll(async () => {
  doc = (await (await gatewayFetch(`${MANAGEMENT}/openapi.json`)).json()) as typeof doc;
});

/** Every answer checked, by operation: which statuses were seen (the test asserts each operation got a 2xx). */
const seen = new Map<string, Set<number>>();

/** Checks an answer against the document's `template` operation. */
async function conformsAnswer(method: string, template: string, res: Response): Promise<Response> {
  const text = await res.text();
  const where = `${method} ${template} -> ${res.status}`;
  const operation = doc.paths[MANAGEMENT + template]?.[method.toLowerCase()];
  expect(operation, `${method} ${template} is in the document`).toBeDefined();
  const declared = operation!.responses[String(res.status)];
  expect(declared, `${where} is a documented status: ${text.slice(0, 300)}`).toBeDefined();
  const schema = declared!.content?.["application/json"]?.schema;
  expect(schema, `${where} documents a JSON body`).toBeDefined();
  expect(res.headers.get("content-type"), where).toMatch(/^application\/json/);
  expect(problems(doc, JSON.parse(text), schema!, "body"), `${where}: ${text.slice(0, 600)}`).toEqual([]);
  // Every header the document promises for this answer is there, and fits its schema (a number is a number).
  for (const [name, header] of Object.entries(declared!.headers ?? {})) {
    const value = res.headers.get(name);
    expect(value, `${where}: header ${name}`).not.toBeNull();
    const typed = header.schema.type === "integer" ? (/^\d+$/.test(value!) ? Number(value) : value) : value;
    expect(problems(doc, typed, header.schema, name), `${where}: header ${name}: ${value}`).toEqual([]);
  }
  const key = `${method} ${template}`;
  seen.set(key, (seen.get(key) ?? new Set()).add(res.status));
  return new Response(text, { status: res.status, headers: res.headers });
}

/** Calls `path` (relative to the management base) as the operator, or as the key `as`, and checks the answer. */
async function conforms(method: string, template: string, path: string, init: TestInit = {}, as?: string): Promise<Response> {
  const full = MANAGEMENT + path;
  return conformsAnswer(method, template, as ? await keyFetch(as, full, { method, ...init }) : await adminFetch(path, { method, ...init }));
}

const data = async <T>(res: Response) => ((await res.json()) as { data: T }).data;

describe("every answer matches the OpenAPI document", () => {
  it("orgs, keys, limits, usage, audit, scopes, whoami, auth failures and health: bodies fit their declared schemas", { timeout: 120_000 }, async () => {
    await conforms("GET", "/health", "/health");
    const org = await data<{ id: string }>(await conforms("POST", "/orgs", "/orgs", { json: { name: "Conformance Ünïcode 🙂", tier: "pro", max_active_keys: 50 } }));
    const O = `/orgs/${org.id}`;
    await conforms("GET", "/orgs", "/orgs?per_page=100&sort=name");
    await conforms("GET", "/orgs/{org_id}", O);
    await conforms("PATCH", "/orgs/{org_id}", O, { json: { name: "Conformance renamed", max_active_keys: 40 } });

    const full = await data<{ id: string; key: string }>(
      await conforms("POST", "/orgs/{org_id}/keys", `${O}/keys`, {
        json: {
          name: "everything",
          scopes: ["demo:read", "keys:read", "keys:write", "audit:read"],
          expires_in: "90d",
          rate_limits: [{ name: "default", limit: 100, window: "60s", mode: "strict" }],
          quota: { limit: 10_000, period: "month" },
          meta: { team: "payments", nested: { list: [1, "two", null, true] } },
          allowed_ips: ["10.0.0.0/8", "2001:db8::/32"],
        },
      }),
    );
    const plain = await data<{ id: string; key: string }>(await conforms("POST", "/orgs/{org_id}/keys", `${O}/keys`, { json: { name: "plain", scopes: ["demo:read"], rate_limit: { limit: 30, window: "1m" }, expires_at: "2031-06-30T12:00:00+02:00" } }));
    const reader = await createKey(org.id, { scopes: ["keys:read", "audit:read", "demo:read"] });
    // Traffic for usage and recent calls, and a revoked key's failed call for the audit's auth.failed row.
    for (let i = 0; i < 3; i++) await keyFetch(plain.key, "/demo/items?i=" + i);
    await keyFetch(plain.key, "/nowhere");
    const revoked = await createKey(org.id);
    await adminFetch(`${O}/keys/${revoked.id}/revoke`, { method: "POST" });
    await keyFetch(revoked.key, "/demo/items");
    await gatewayFetch("/demo/items", { headers: { authorization: "Bearer kg_not-a-real-key" } });
    await conforms("POST", "/usage/flush", "/usage/flush");

    await conforms("GET", "/orgs/{org_id}/keys", `${O}/keys?per_page=100&sort=-last_used_at`);
    await conforms("GET", "/orgs/{org_id}/keys", `${O}/keys?status=revoked,active&name=e`, {}, reader.key);
    await conforms("GET", "/orgs/{org_id}/keys/{key_id}", `${O}/keys/${full.id}`);
    await conforms("GET", "/orgs/{org_id}/keys/{key_id}", `${O}/keys/${revoked.id}`, {}, reader.key);
    await conforms("PATCH", "/orgs/{org_id}/keys/{key_id}", `${O}/keys/${full.id}`, { json: { enabled: false, meta: null, quota: null } });
    await conforms("PATCH", "/orgs/{org_id}/keys/{key_id}", `${O}/keys/${plain.id}`, { json: { name: "plain renamed", rate_limit: null } });
    await conforms("GET", "/orgs/{org_id}/keys/{key_id}/limits", `${O}/keys/${plain.id}/limits`);
    await conforms("GET", "/orgs/{org_id}/keys/{key_id}/limits", `${O}/keys/${full.id}/limits`);
    for (const granularity of ["minute", "hour", "day"]) {
      const usage = await data<{ series: unknown[]; recent: unknown[] }>(await conforms("GET", "/orgs/{org_id}/keys/{key_id}/usage", `${O}/keys/${plain.id}/usage?granularity=${granularity}`));
      // The buckets and the recent sample are there to be checked, not empty arrays.
      expect(usage.series.length * usage.recent.length, granularity).toBeGreaterThan(0);
      await conforms("GET", "/orgs/{org_id}/usage", `${O}/usage?granularity=${granularity}`, {}, reader.key);
    }
    const rotated = await data<{ id: string }>(await conforms("POST", "/orgs/{org_id}/keys/{key_id}/rotate", `${O}/keys/${plain.id}/rotate`, { json: { grace_period: "1h" } }));
    await conforms("GET", "/orgs/{org_id}/keys/{key_id}", `${O}/keys/${rotated.id}`);
    await conforms("POST", "/orgs/{org_id}/keys/{key_id}/revoke", `${O}/keys/${full.id}/revoke`);
    await conforms("POST", "/orgs/{org_id}/keys/{key_id}/revoke", `${O}/keys/${full.id}/revoke`);
    await conforms("GET", "/orgs/{org_id}/audit", `${O}/audit?per_page=100`);
    await conforms("GET", "/orgs/{org_id}/audit", `${O}/audit?action=auth.failed,key.rotated`, {}, reader.key);
    await conforms("GET", "/scopes", "/scopes");
    await conforms("GET", "/whoami", "/whoami");
    await conforms("GET", "/whoami", "/whoami", {}, reader.key);
    await conforms("GET", "/auth-failures", "/auth-failures?per_page=100");

    // Refusals are answers too: each in the envelope the document declares for its status.
    await conforms("POST", "/orgs", "/orgs", { json: { name: "", tier: "nope", extra: 1 } });
    await conforms("GET", "/orgs/{org_id}", "/orgs/org_doesnotexist0000");
    await conforms("GET", "/orgs", "/orgs", {}, reader.key);
    await conforms("POST", "/orgs/{org_id}/keys/{key_id}/rotate", `${O}/keys/${full.id}/rotate`, { json: {} });
    await conforms("GET", "/orgs/{org_id}/keys", `${O}/keys`, { headers: { authorization: "Bearer wrong-token-0000000000000000" } });
    await conforms("POST", "/orgs/{org_id}/keys", `${O}/keys`, { body: "x".repeat(70_000), headers: { "content-type": "application/json" } });
    await conforms("PATCH", "/orgs/{org_id}/keys/{key_id}", `${O}/keys/${rotated.id}`, { body: "name=x", headers: { "content-type": "application/x-www-form-urlencoded" } });

    // GitHub's secret-scanning endpoint: a signed report of one live key and one stranger, a bad signature, a bad body.
    const signer = await newGithubSigner();
    const keys = keysEndpoint();
    await keys.publish(signer);
    const github = workerWith({ GITHUB_SECRET_SCANNING_KEYS_URL: keys.url });
    const leaked = await createKey(org.id);
    const report = JSON.stringify(leakItems([{ token: leaked.key }, { token: "kg_notakeyofours" }]));
    await conformsAnswer("POST", "/secret-scanning/github", await github.report(report, signer));
    await conformsAnswer("POST", "/secret-scanning/github", await github.report(report, signer, { sign: "something else" }));
    await conformsAnswer("POST", "/secret-scanning/github", await github.report(JSON.stringify([{ token: 5 }]), signer));

    // Every operation of the document but the docs and the document itself got a 2xx here.
    const skipped = ["/openapi.json", "/docs"];
    for (const [path, item] of Object.entries(doc.paths)) {
      if (skipped.some((s) => path.endsWith(s))) continue;
      for (const method of Object.keys(item)) {
        const statuses = [...(seen.get(`${method.toUpperCase()} ${path.slice(MANAGEMENT.length)}`) ?? [])];
        expect(statuses.some((s) => s < 300), `${method} ${path} was called successfully (${statuses})`).toBe(true);
      }
    }
    expect(env.ADMIN_TOKEN).toBeDefined();
  });

  it("the check itself catches a wrong type, a missing or unknown field, a bad enum value and a 5-digit year", async () => {
    const org = await createOrg();
    const { data } = await createKey(org.id);
    const schema = doc.paths[`${MANAGEMENT}/orgs/{org_id}/keys/{key_id}`]!.get!.responses["200"]!.content!["application/json"]!.schema;
    expect(problems(doc, { data }, schema, "body")).toEqual([]);
    const { name: _name, ...withoutName } = data;
    const broken: [string, unknown][] = [
      ["body.data.scopes", { ...data, scopes: "demo:read" }],
      ["body.data.name", withoutName],
      ["body.data.secret", { ...data, secret: "x" }],
      ["body.data.status", { ...data, status: "paused" }],
      ["body.data.created_at", { ...data, created_at: "+010000-01-01T00:00:00.000Z" }],
    ];
    for (const [field, value] of broken) expect(problems(doc, { data: value }, schema, "body").join("\n")).toContain(field);
  });
});
