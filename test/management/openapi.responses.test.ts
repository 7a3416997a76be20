// "Responses match the OpenAPI document": every operation is called the way a client would (happy paths
// with every optional part filled: limits, quotas, meta, allowed IPs, usage after real traffic, audit with
// auth.failed rows, disabled, revoked and rotated keys, and some refusals), and each answer's body is checked
// against the schema the document declares for that operation and status: types, required and unknown
// properties, enums, string lengths and patterns, number and array bounds, date-time format. A field the
// handler adds, drops, renames or fills with the wrong type fails here, whatever the zod types said.
import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { adminFetch, createKey, createOrg, gatewayFetch, keyFetch, MANAGEMENT, type TestInit } from "../harness";

type Schema = Record<string, unknown>;
interface Operation {
  responses: Record<string, { headers?: Record<string, { schema: Schema }>; content?: Record<string, { schema: Schema }> }>;
}

let doc: { paths: Record<string, Record<string, Operation>>; components: { schemas: Record<string, Schema> } };

beforeAll(async () => {
  doc = (await (await gatewayFetch(`${MANAGEMENT}/openapi.json`)).json()) as typeof doc;
});

const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;

function resolve(input: Schema): Schema {
  let schema = input;
  while (typeof schema.$ref === "string") schema = doc.components.schemas[schema.$ref.split("/").pop()!]!;
  if (!Array.isArray(schema.allOf)) return schema;
  // allOf of objects (CreatedKey = Key + key): one object with every part's properties and requirements.
  const { allOf, ...rest } = schema;
  const parts = (allOf as Schema[]).map(resolve);
  return {
    ...Object.assign({}, ...parts),
    ...rest,
    properties: Object.assign({}, ...parts.map((part) => part.properties ?? {}), rest.properties ?? {}),
    required: parts.flatMap((part) => (part.required as string[] | undefined) ?? []).concat((rest.required as string[] | undefined) ?? []),
  };
}

/**
 * The JSON Schema subset the document uses (OpenAPI 3.1). Hand-written because the test runs in workerd,
 * which refuses the code generation (`new Function`) that Ajv compiles schemas with. Stricter than JSON
 * Schema in one way: a property the document does not name is a mismatch (the document is the contract).
 */
function problems(value: unknown, input: Schema, at: string): string[] {
  const schema = resolve(input);
  const out: string[] = [];
  for (const key of ["anyOf", "oneOf"] as const) {
    if (Array.isArray(schema[key])) {
      const fits = (schema[key] as Schema[]).filter((option) => problems(value, option, at).length === 0).length;
      if (key === "anyOf" ? fits === 0 : fits !== 1) out.push(`${at}: matches ${fits} of the ${key} options: ${JSON.stringify(value)?.slice(0, 120)}`);
    }
  }
  if ("const" in schema && value !== schema.const) out.push(`${at}: is not ${JSON.stringify(schema.const)}`);
  if (Array.isArray(schema.enum) && !schema.enum.includes(value)) out.push(`${at}: ${JSON.stringify(value)} is not one of ${JSON.stringify(schema.enum)}`);
  const types = ([] as string[]).concat((schema.type as string | string[] | undefined) ?? []);
  if (schema.nullable === true) types.push("null");
  if (types.length > 0) {
    const actual = value === null ? "null" : Array.isArray(value) ? "array" : typeof value === "number" && Number.isInteger(value) ? "integer" : typeof value;
    if (!types.includes(actual) && !(actual === "integer" && types.includes("number"))) return [...out, `${at}: is ${actual}, the document says ${types.join("|")}`];
  }
  if (typeof value === "string") {
    if (typeof schema.maxLength === "number" && [...value].length > schema.maxLength) out.push(`${at}: longer than ${schema.maxLength}`);
    if (typeof schema.minLength === "number" && [...value].length < schema.minLength) out.push(`${at}: shorter than ${schema.minLength}`);
    if (typeof schema.pattern === "string" && !new RegExp(schema.pattern, "u").test(value)) out.push(`${at}: ${JSON.stringify(value)} does not match ${schema.pattern}`);
    if (schema.format === "date-time" && !RFC3339.test(value)) out.push(`${at}: ${JSON.stringify(value)} is not an RFC 3339 date-time`);
  }
  if (typeof value === "number") {
    if (typeof schema.maximum === "number" && value > schema.maximum) out.push(`${at}: ${value} > maximum ${schema.maximum}`);
    if (typeof schema.minimum === "number" && value < schema.minimum) out.push(`${at}: ${value} < minimum ${schema.minimum}`);
  }
  if (Array.isArray(value)) {
    if (typeof schema.maxItems === "number" && value.length > schema.maxItems) out.push(`${at}: more than ${schema.maxItems} items`);
    if (typeof schema.minItems === "number" && value.length < schema.minItems) out.push(`${at}: fewer than ${schema.minItems} items`);
    if (schema.items) value.forEach((item, i) => out.push(...problems(item, schema.items as Schema, `${at}[${i}]`)));
  }
  if (value !== null && typeof value === "object" && !Array.isArray(value)) {
    const properties = (schema.properties ?? {}) as Record<string, Schema>;
    for (const name of (schema.required as string[] | undefined) ?? []) if (!(name in value)) out.push(`${at}.${name}: required, missing`);
    for (const [name, child] of Object.entries(value)) {
      if (properties[name]) out.push(...problems(child, properties[name]!, `${at}.${name}`));
      else if (schema.additionalProperties && typeof schema.additionalProperties === "object") out.push(...problems(child, schema.additionalProperties as Schema, `${at}.${name}`));
      else if (schema.additionalProperties !== true && (schema.additionalProperties === false || Object.keys(properties).length > 0)) out.push(`${at}.${name}: not in the document`);
    }
  }
  return out;
}

/** Every answer checked, by operation: which statuses were seen (the test asserts each operation got a 2xx). */
const seen = new Map<string, Set<number>>();

/** Calls `path` (relative to the management base) and checks the answer against the document's `template` operation. */
async function conforms(method: string, template: string, path: string, init: TestInit = {}, as?: string): Promise<Response> {
  const full = MANAGEMENT + path;
  const res = as ? await keyFetch(as, full, { method, ...init }) : await adminFetch(path, { method, ...init });
  const text = await res.text();
  const where = `${method} ${template} -> ${res.status}`;
  const operation = doc.paths[MANAGEMENT + template]?.[method.toLowerCase()];
  expect(operation, `${method} ${template} is in the document`).toBeDefined();
  const declared = operation!.responses[String(res.status)];
  expect(declared, `${where} is a documented status: ${text.slice(0, 300)}`).toBeDefined();
  const schema = declared!.content?.["application/json"]?.schema;
  expect(schema, `${where} documents a JSON body`).toBeDefined();
  expect(res.headers.get("content-type"), where).toMatch(/^application\/json/);
  expect(problems(JSON.parse(text), schema!, "body"), `${where}: ${text.slice(0, 600)}`).toEqual([]);
  // Every header the document promises for this answer is there, and fits its schema (a number is a number).
  for (const [name, header] of Object.entries(declared!.headers ?? {})) {
    const value = res.headers.get(name);
    expect(value, `${where}: header ${name}`).not.toBeNull();
    const typed = header.schema.type === "integer" ? (/^\d+$/.test(value!) ? Number(value) : value) : value;
    expect(problems(typed, header.schema, name), `${where}: header ${name}: ${value}`).toEqual([]);
  }
  const key = `${method} ${template}`;
  seen.set(key, (seen.get(key) ?? new Set()).add(res.status));
  return new Response(text, { status: res.status, headers: res.headers });
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

    // Every operation of the document but the docs, the document itself and GitHub's endpoint got a 2xx here.
    const skipped = ["/openapi.json", "/docs", "/secret-scanning/github"];
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
    expect(problems({ data }, schema, "body")).toEqual([]);
    const { name: _name, ...withoutName } = data;
    const broken: [string, unknown][] = [
      ["body.data.scopes", { ...data, scopes: "demo:read" }],
      ["body.data.name", withoutName],
      ["body.data.secret", { ...data, secret: "x" }],
      ["body.data.status", { ...data, status: "paused" }],
      ["body.data.created_at", { ...data, created_at: "+010000-01-01T00:00:00.000Z" }],
    ];
    for (const [field, value] of broken) expect(problems({ data: value }, schema, "body").join("\n")).toContain(field);
  });
});
