// Helpers for the management tests only (the shared harness stays small).
import { env } from "cloudflare:workers";
import { expect } from "vitest";
import { adminFetch, createKey, type CreateKeyOptions, MANAGEMENT } from "../harness";

export interface ErrorBody {
  error: { code: string; message: string; details?: { field: string; message: string }[] };
}

/** Asserts the status and the envelope's code; returns the envelope. */
export async function expectError(res: Response, status: number, code: string): Promise<ErrorBody> {
  const text = await res.text();
  expect(res.status, text).toBe(status);
  expect(res.headers.get("content-type")).toMatch(/^application\/json/);
  const body = JSON.parse(text) as ErrorBody;
  expect(Object.keys(body)).toEqual(["error"]);
  expect(body.error.code).toBe(code);
  expect(typeof body.error.message).toBe("string");
  return body;
}

export async function expectJson<T>(res: Response, status: number): Promise<T> {
  const text = await res.text();
  expect(res.status, text).toBe(status);
  return JSON.parse(text) as T;
}

export const fields = (body: ErrorBody) => (body.error.details ?? []).map((d) => d.field);

export const orgPath = (orgId: string, rest = "") => `${MANAGEMENT}/orgs/${orgId}${rest}`;

/** Writes columns straight into D1, for states the API cannot produce on demand (past times). */
export async function setKeyColumns(keyId: string, columns: { last_used_at?: number | null; expires_at?: number | null; created_at?: number }): Promise<void> {
  const entries = Object.entries(columns);
  const sets = entries.map(([name]) => `${name} = ?`).join(", ");
  await env.DB.prepare(`UPDATE api_keys SET ${sets} WHERE id = ?`)
    .bind(...entries.map(([, value]) => value), keyId)
    .run();
}

/**
 * A key that has expired. Created through the API (which purges its hash from every cache),
 * then its expiry is moved into the past in D1 before anything has looked it up, so the first
 * lookup reads the expired record from D1.
 */
export async function expiredKey(orgId: string, opts: CreateKeyOptions = {}) {
  const created = await createKey(orgId, { expires_in: "30d", ...opts });
  await setKeyColumns(created.id, { expires_at: Date.now() - 60_000 });
  return created;
}

/** A key revoked through the API. */
export async function revokedKey(orgId: string, opts: CreateKeyOptions = {}) {
  const created = await createKey(orgId, opts);
  const res = await adminFetch(`/orgs/${orgId}/keys/${created.id}/revoke`, { method: "POST" });
  expect(res.status).toBe(200);
  return created;
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
