// Shared test harness: seeds orgs and keys through the real management API, as an operator would.
import { env, exports } from "cloudflare:workers";

export const ORIGIN = "http://gw.test";
/** Management API base path. */
export const MANAGEMENT = "/_keygate/v1";

/** `RequestInit` plus `json`: serialized as the body with `Content-Type: application/json`. */
export type TestInit = RequestInit & { json?: unknown };

function withJson(init: TestInit = {}): RequestInit {
  const { json, ...rest } = init;
  if (json === undefined) return rest;
  const headers = new Headers(rest.headers);
  if (!headers.has("content-type")) headers.set("content-type", "application/json");
  return { method: "POST", ...rest, headers, body: JSON.stringify(json) };
}

/** Through the worker's real fetch handler. `path` is from the root, e.g. "/demo/items". */
export function gatewayFetch(path: string, init?: TestInit): Promise<Response> {
  return exports.default.fetch(new Request(ORIGIN + path, withJson(init)));
}

/** As the operator (ADMIN_TOKEN). `path` is relative to the management base, e.g. "/orgs". */
export function adminFetch(path: string, init: TestInit = {}): Promise<Response> {
  const headers = new Headers(init.headers);
  headers.set("authorization", `Bearer ${env.ADMIN_TOKEN}`);
  return gatewayFetch(MANAGEMENT + path, { ...init, headers });
}

/**
 * With an API key as `Authorization: Bearer`, unless `init.headers` already carries credentials.
 * `path` is from the root: "/demo/items" for the gateway, `${MANAGEMENT}/orgs/...` for management.
 */
export function keyFetch(key: string, path: string, init: TestInit = {}): Promise<Response> {
  const headers = new Headers(init.headers);
  if (!headers.has("authorization") && !headers.has("x-api-key")) headers.set("authorization", `Bearer ${key}`);
  return gatewayFetch(path, { ...init, headers });
}

export interface OrgJson {
  id: string;
  name: string;
  tier: string;
  max_active_keys: number;
  created_at: string;
  updated_at: string;
}

export interface KeyJson {
  id: string;
  name: string;
  identifier: string;
  last4: string;
  scopes: string[];
  status: "active" | "disabled" | "expired" | "revoked";
  enabled: boolean;
  disabled_at: string | null;
  allowed_ips: string[];
  created_at: string;
  age_days: number;
  expires_at: string | null;
  last_used_at: string | null;
  revoked_at: string | null;
  rate_limit: { limit: number; window: string; mode?: "strict" | "fast" } | null;
  rotated_from: string | null;
  rotated_to: string | null;
  meta: Record<string, unknown> | null;
}

export interface CreateOrgOptions {
  name?: string;
  tier?: string;
  max_active_keys?: number;
}

export interface CreateKeyOptions {
  name?: string;
  scopes?: string[];
  expires_in?: "30d" | "90d" | "1y" | "never";
  expires_at?: string;
  rate_limit?: { limit: number; window: string; mode?: "strict" | "fast" } | null;
  meta?: Record<string, unknown>;
  allowed_ips?: string[];
}

async function expectStatus<T>(res: Response, status: number, what: string): Promise<T> {
  const body = await res.text();
  if (res.status !== status) throw new Error(`${what}: expected ${status}, got ${res.status}: ${body}`);
  return JSON.parse(body) as T;
}

let orgCounter = 0;

/** A fresh org (tier "free" unless given). Every test should use its own. */
export async function createOrg(opts: CreateOrgOptions = {}): Promise<{ id: string; org: OrgJson }> {
  const res = await adminFetch("/orgs", { method: "POST", json: { name: `test org ${++orgCounter}`, tier: "free", ...opts } });
  const { data } = await expectStatus<{ data: OrgJson }>(res, 201, "createOrg");
  return { id: data.id, org: data };
}

/** A key in `orgId` (scopes ["demo:read"] unless given), created by the operator. `key` is the once-shown secret. */
export async function createKey(orgId: string, opts: CreateKeyOptions = {}): Promise<{ id: string; key: string; data: KeyJson }> {
  const res = await adminFetch(`/orgs/${orgId}/keys`, { method: "POST", json: { name: "test key", scopes: ["demo:read"], ...opts } });
  const { data } = await expectStatus<{ data: KeyJson & { key: string } }>(res, 201, "createKey");
  const { key, ...rest } = data;
  return { id: data.id, key, data: rest };
}
