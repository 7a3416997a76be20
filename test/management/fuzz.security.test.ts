// Issue 18 "the class": schema-driven fuzzing of every management operation. The requests are generated
// (fast-check) from the OpenAPI document the worker serves: valid and invalid path ids, queries and
// bodies, sent as the operator, as an org key of each scope, as another org's admin key, with a wrong
// token and with no credentials. Every answer must be: no 5xx; a status the operation documents; a body
// that fits the schema the document declares for it; the error envelope with a code of that status; nothing of another tenant; no key or token in any body.
import { env } from "cloudflare:workers";
import fc from "fast-check";
import { beforeAll, describe, expect, it } from "vitest";
import { ERROR_CODES } from "../../src/errors";
import { adminFetch, createKey, createOrg, gatewayFetch, MANAGEMENT } from "../harness";
import { type OpenApiDocument, problems } from "./openapi_schema";

/** Requests per run (the count is printed); the time budget stops a slow machine from running away. */
const TOTAL_REQUESTS = 5_200;
const TIME_BUDGET_MS = 240_000;

type Json = Record<string, unknown>;
type Schema = Json;

interface Operation {
  method: string;
  path: string;
  op: Json;
}

interface Caller {
  name: string;
  /** Authorization header value, or null for none. */
  auth: string | null;
  /** An org key of the fuzzed org "A" (tenant isolation applies to it). */
  tenantKey: boolean;
}

let doc: Json;
let operations: Operation[];
let callers: Caller[];
let orgA: string;
let orgB: string;
let keysA: string[];
let keysB: string[];
/** Every full key created for this test, and the admin token: none may ever appear in a response. */
let secrets: string[];
const catalogue = ["demo:read", "demo:write", "keys:read", "keys:write", "audit:read", "admin"];

beforeAll(async () => {
  doc = (await (await gatewayFetch(`${MANAGEMENT}/openapi.json`)).json()) as Json;
  operations = [];
  for (const [path, item] of Object.entries(doc.paths as Record<string, Json>)) {
    for (const method of ["get", "post", "patch", "put", "delete"]) if (item[method]) operations.push({ method, path, op: item[method] as Json });
  }
  orgA = (await createOrg({ max_active_keys: 10_000 })).id;
  orgB = (await createOrg()).id;
  const scoped = await Promise.all(["keys:read", "keys:write", "audit:read", "admin", "demo:read"].map((scope) => createKey(orgA, { scopes: [scope], name: `caller ${scope}` })));
  const targets = await Promise.all([0, 1, 2, 3].map(() => createKey(orgA, { scopes: ["demo:read"] })));
  const otherAdmin = await createKey(orgB, { scopes: ["admin"] });
  const otherTarget = await createKey(orgB, { scopes: ["demo:read"] });
  keysA = targets.map((k) => k.id);
  keysB = [otherAdmin.id, otherTarget.id];
  secrets = [env.ADMIN_TOKEN!, ...scoped.map((k) => k.key), ...targets.map((k) => k.key), otherAdmin.key, otherTarget.key];
  callers = [
    { name: "operator", auth: `Bearer ${env.ADMIN_TOKEN}`, tenantKey: false },
    ...scoped.map((k) => ({ name: `org key ${k.data.scopes[0]}`, auth: `Bearer ${k.key}`, tenantKey: true })),
    { name: "other org's admin key", auth: `Bearer ${otherAdmin.key}`, tenantKey: false },
    { name: "wrong token", auth: "Bearer not-the-admin-token-at-all-0000", tenantKey: false },
    { name: "no credentials", auth: null, tenantKey: false },
  ];
});

function resolve(schema: Schema): Schema {
  let current = schema;
  while (typeof current.$ref === "string") {
    const name = current.$ref.split("/").pop()!;
    current = (doc.components as { schemas: Record<string, Schema> }).schemas[name]!;
  }
  return current;
}

const anyJson = fc.jsonValue({ maxDepth: 3 });

/** Values that fit the schema (mostly; patterns and refinements the schema cannot express may still fail). */
function fitting(input: Schema, name = ""): fc.Arbitrary<unknown> {
  const schema = resolve(input);
  if (name === "scopes") return fc.subarray(catalogue, { minLength: 1 });
  if (name === "tier") return fc.constantFrom("free", "pro", "enterprise");
  // Hints where the schema's pattern admits far more than the handler does, so valid requests are common.
  if (name === "window" || name === "grace_period") return fc.oneof(fc.constantFrom("0s", "1s", "60s", "15m", "1h", "1d", "7d"), fitting(input));
  if (name === "expires_at") return fc.date({ min: new Date(Date.now() + 60_000), max: new Date(Date.now() + 50 * 365 * 86_400_000), noInvalidDate: true }).map((d) => d.toISOString());
  if (schema.enum) return fc.constantFrom(...(schema.enum as unknown[]));
  if ("const" in schema) return fc.constant(schema.const);
  for (const key of ["anyOf", "oneOf"] as const) if (Array.isArray(schema[key])) return fc.oneof(...(schema[key] as Schema[]).map((s) => fitting(s, name)));
  if (Array.isArray(schema.allOf)) {
    return fc.tuple(...(schema.allOf as Schema[]).map((s) => fitting(s, name))).map((parts) => Object.assign({}, ...parts.filter((p) => p && typeof p === "object")));
  }
  const types = ([] as string[]).concat((schema.type as string | string[] | undefined) ?? []);
  if (types.length > 1) return fc.oneof(...types.map((type) => fitting({ ...schema, type }, name)));
  switch (types[0]) {
    case "null":
      return fc.constant(null);
    case "boolean":
      return fc.boolean();
    case "integer":
      return fc.integer({ min: (schema.minimum as number) ?? -1e9, max: (schema.maximum as number) ?? 1e9 });
    case "number":
      return fc.double({ noNaN: true });
    case "string": {
      if (schema.format === "date-time") return fc.date({ min: new Date(Date.now() + 60_000), max: new Date("2130-01-01"), noInvalidDate: true }).map((d) => d.toISOString());
      if (typeof schema.pattern === "string") return fc.stringMatching(new RegExp(schema.pattern)).filter((s) => s.length <= ((schema.maxLength as number) ?? 1000));
      return fc.string({ minLength: (schema.minLength as number) ?? 0, maxLength: Math.min((schema.maxLength as number) ?? 50, 120) });
    }
    case "array":
      return fc.array(fitting(schema.items as Schema), { minLength: (schema.minItems as number) ?? 0, maxLength: Math.min((schema.maxItems as number) ?? 5, 5) });
    case "object": {
      const properties = (schema.properties ?? {}) as Record<string, Schema>;
      const names = Object.keys(properties);
      if (names.length === 0) return fc.dictionary(fc.string({ maxLength: 10 }), anyJson, { maxKeys: 5 });
      const record = Object.fromEntries(names.map((n) => [n, fitting(properties[n]!, n)]));
      return fc.record(record, { requiredKeys: (schema.required as string[] | undefined) ?? [] });
    }
    default:
      return anyJson;
  }
}

/** Valid-looking values, and the ways they go wrong: wrong types, out of range, unknown fields, garbage. */
function fuzzed(schema: Schema): fc.Arbitrary<unknown> {
  const valid = fitting(schema);
  return fc.oneof(
    { weight: 5, arbitrary: valid },
    { weight: 1, arbitrary: anyJson },
    { weight: 1, arbitrary: fc.tuple(valid, fc.string({ maxLength: 8 }), anyJson).map(([v, k, x]) => (v && typeof v === "object" && !Array.isArray(v) ? { ...v, [k || "x"]: x } : x)) },
    {
      weight: 1,
      arbitrary: fc.tuple(valid, anyJson).map(([v, x]) => {
        if (!v || typeof v !== "object" || Array.isArray(v)) return x;
        const keys = Object.keys(v);
        return keys.length === 0 ? x : { ...v, [keys[0]!]: x };
      }),
    },
  );
}

function paramValue(schema: Schema): fc.Arbitrary<string> {
  return fc.oneof(
    { weight: 4, arbitrary: fitting(schema).map(String) },
    { weight: 1, arbitrary: fc.string({ maxLength: 30 }) },
    { weight: 1, arbitrary: fc.constantFrom("-1", "0", "1e9", "99999999999", "NaN", "", "%00", "🙂") },
  );
}

function requestFor({ path, op }: Operation) {
  const params = ((op.parameters ?? []) as { name: string; in: string; required?: boolean; schema: Schema }[]).filter((p) => p.in === "query");
  const query = fc.record(Object.fromEntries(params.map((p) => [p.name, paramValue(p.schema)])), { requiredKeys: [] });
  const body = (op.requestBody as { content?: Record<string, { schema: Schema }> } | undefined)?.content?.["application/json"]?.schema;
  return fc.record({
    caller: fc.integer({ min: 0, max: callers.length - 1 }),
    org: fc.constantFrom(orgA, orgA, orgA, orgB, "org_doesnotexist000000", "not an id", "x".repeat(70)),
    key: fc.constantFrom(...keysA, ...keysA, keysB[1]!, "key_doesnotexist000000", "..", "key%2F1"),
    query,
    body: body ? fc.option(fuzzed(body), { nil: undefined, freq: 8 }) : fc.constant(undefined),
    // Now and then a body that is not a JSON object at all.
    rawBody: fc.oneof({ weight: 11, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: fc.constantFrom("{", "[]", "null", '"x"', "{}".repeat(3)) }),
    path: fc.constant(path),
  });
}

let sent = 0;
/** Keys the fuzzing itself created (shown once, in their 201): they may not appear anywhere else. */
const minted: string[] = [];
const statuses: Record<number, number> = {};
const deadline = { at: 0 };

interface ErrorEnvelope {
  error: { code: keyof typeof ERROR_CODES; message: string; details?: { field: string; message: string }[] };
}

async function check(operation: Operation, req: ReturnType<typeof requestFor> extends fc.Arbitrary<infer T> ? T : never): Promise<void> {
  const caller = callers[req.caller]!;
  const path = operation.path.replace("{org_id}", encodeURIComponent(req.org)).replace("{key_id}", encodeURIComponent(req.key));
  const search = new URLSearchParams(Object.entries(req.query).map(([k, v]) => [k, String(v)])).toString();
  const headers = new Headers();
  if (caller.auth) headers.set("authorization", caller.auth);
  let body: string | undefined;
  if (req.rawBody !== undefined || req.body !== undefined) {
    headers.set("content-type", "application/json");
    body = req.rawBody ?? JSON.stringify(req.body);
  }
  const method = operation.method.toUpperCase();
  const res = await gatewayFetch(`${path}${search ? `?${search}` : ""}`, { method, headers, body: method === "GET" ? undefined : body });
  sent++;
  statuses[res.status] = (statuses[res.status] ?? 0) + 1;
  const text = await res.text();
  const where = `${caller.name}: ${method} ${path}?${search} ${body ?? ""} -> ${res.status} ${text.slice(0, 300)}`;

  expect(res.status, where).toBeLessThan(500);
  expect(Object.keys(operation.op.responses as Json), where).toContain(String(res.status));
  expect(res.headers.get("content-type"), where).toMatch(/^application\/json/);
  // The document promises the rate-limit headers on every 2xx and 4xx answer of an authenticated operation.
  if (!operation.path.endsWith("/health")) {
    for (const name of ["ratelimit-policy", "ratelimit", "x-ratelimit-remaining", "x-ratelimit-reset"]) expect(res.headers.get(name), `${where}: ${name}`).not.toBeNull();
    if (res.status === 429) expect(res.headers.get("retry-after"), where).not.toBeNull();
  }
  const json = JSON.parse(text) as Json;
  // The body is what the document declares for this operation and status (openapi_schema.ts), unless the
  // URL parser resolved an id of ".." into another operation's path (keys/../usage is the org's usage).
  if (new URL(path, "http://gw.test").pathname === path) {
    const declared = (operation.op.responses as Record<string, { content?: Record<string, { schema: Json }> }>)[String(res.status)]!;
    expect(problems(doc as unknown as OpenApiDocument, json, declared.content!["application/json"]!.schema, "body"), where).toEqual([]);
  }
  if (res.status >= 400) {
    expect(Object.keys(json), where).toEqual(["error"]);
    const { error } = json as unknown as ErrorEnvelope;
    expect(ERROR_CODES[error.code], where).toBe(res.status);
    expect(typeof error.message, where).toBe("string");
    for (const detail of error.details ?? []) expect(Object.keys(detail).sort(), where).toEqual(["field", "message"]);
  }
  for (const secret of [...secrets, ...minted]) expect(text.includes(secret), `${where}: leaks a key or the admin token`).toBe(false);
  if (res.status === 201 && typeof (json.data as { key?: unknown } | undefined)?.key === "string") minted.push((json.data as { key: string }).key);
  if (caller.tenantKey) {
    // An org key of A learns nothing about B: B's ids answer like ids that do not exist.
    // (An id the request itself named may be echoed in the 404's message.)
    const asked = `${path}?${search} ${body ?? ""}`;
    for (const id of [orgB, ...keysB]) if (!asked.includes(id)) expect(text.includes(id), `${where}: shows another tenant's ${id}`).toBe(false);
    if (operation.path.includes("{org_id}") && req.org === orgB && res.status !== 400 && res.status !== 413 && res.status !== 415) expect([403, 404], where).toContain(res.status);
  }
}

describe("management API fuzzing (schema-driven, fast-check)", () => {
  it(`every operation, every caller: no 5xx, documented statuses, one envelope, no cross-tenant data (${TOTAL_REQUESTS} generated requests, at least 1,000 if the ${TIME_BUDGET_MS / 1000} s budget runs out)`, { timeout: TIME_BUDGET_MS + 60_000 }, async () => {
    deadline.at = Date.now() + TIME_BUDGET_MS;
    const authenticated = operations.filter((o) => !o.path.endsWith("/health"));
    expect(authenticated.length).toBeGreaterThanOrEqual(12);
    const perOperation = Math.ceil(TOTAL_REQUESTS / operations.length);
    for (const operation of operations) {
      await fc.assert(
        fc.asyncProperty(requestFor(operation), async (req) => {
          if (Date.now() > deadline.at) return;
          await check(operation, req);
        }),
        { numRuns: perOperation, endOnFailure: true },
      );
    }
    console.log(`management fuzz: ${sent} generated requests over ${operations.length} operations and ${callers.length} callers; statuses ${JSON.stringify(statuses)}`);
    // The generator reaches the handlers, not only the validators and the auth check.
    expect((statuses[200] ?? 0) + (statuses[201] ?? 0)).toBeGreaterThan(sent / 20);
    // Nothing the fuzzing did put a key or the token into the audit trail either.
    for (const org of [orgA, orgB]) {
      for (let page = 1; page <= 50; page++) {
        const text = await (await adminFetch(`/orgs/${org}/audit?per_page=100&page=${page}`)).text();
        for (const secret of [...secrets, ...minted]) expect(text.includes(secret), `audit of ${org} page ${page} holds a key or the admin token`).toBe(false);
        if ((JSON.parse(text) as { data: unknown[] }).data.length < 100) break;
      }
    }
    // Only a machine too slow for the budget sends fewer; even then a real share of them.
    expect(sent).toBeGreaterThanOrEqual(Date.now() > deadline.at ? 1_000 : TOTAL_REQUESTS);
  });
});
