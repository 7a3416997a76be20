import type { Context } from "hono";
import type { Env } from "../env";
import { managementApp } from "../management/app";

/**
 * The console is a client of the management API, in process: every action is a request to the very
 * Hono app that serves /_keygate/v1, with the signed-in credential as its bearer token. Validation,
 * authorization, audit, cache purge and rate limits are therefore the API's own code, and an error
 * comes back as the API's envelope for the page to show.
 */
export interface ApiError {
  code: string;
  message: string;
  details?: { field: string; message: string }[];
}

export type ApiResult<T> =
  | { ok: true; status: number; data: T; pagination?: { page: number; per_page: number; total: number }; etag: string | null }
  | { ok: false; status: number; error: ApiError; retryAfter: string | null };

export interface ApiCall {
  method?: "GET" | "POST" | "PATCH";
  /** Path under /_keygate/v1, e.g. `/orgs/org_x/keys`. */
  path: string;
  query?: Record<string, string | number | undefined>;
  body?: unknown;
  /** e.g. `if-match` with a version read just before, where the API asks for one. */
  headers?: Record<string, string>;
}

export const API_BASE = "/_keygate/v1";

// Headers of the browser's request the API should see: the client address feeds the per-source
// auth-failure limit, so a failed sign-in counts exactly like a failed API call from that address.
// CF-Connecting-IP only (SPEC §3.7): X-Real-IP and the like are whatever the client wrote.
const FORWARDED = ["cf-connecting-ip", "user-agent"];

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- any app whose bindings are the worker's Env
export async function callApi<T>(c: Context<{ Bindings: Env; Variables: any }>, credential: string, call: ApiCall): Promise<ApiResult<T>> {
  const url = new URL(API_BASE + call.path, c.req.url);
  for (const [name, value] of Object.entries(call.query ?? {})) if (value !== undefined && value !== "") url.searchParams.set(name, String(value));
  const headers = new Headers({ authorization: `Bearer ${credential}`, accept: "application/json" });
  for (const name of FORWARDED) {
    const value = c.req.header(name);
    if (value) headers.set(name, value);
  }
  if (call.body !== undefined) headers.set("content-type", "application/json");
  for (const [name, value] of Object.entries(call.headers ?? {})) headers.set(name, value);
  const res = await managementApp.request(
    url.toString(),
    { method: call.method ?? "GET", headers, body: call.body === undefined ? undefined : JSON.stringify(call.body) },
    c.env,
    c.executionCtx as ExecutionContext,
  );
  let json: unknown;
  try {
    json = await res.json();
  } catch {
    json = undefined;
  }
  const envelope = json as { data?: T; pagination?: { page: number; per_page: number; total: number }; error?: ApiError } | undefined;
  if (res.ok && envelope && "data" in envelope) return { ok: true, status: res.status, data: envelope.data as T, pagination: envelope.pagination, etag: res.headers.get("etag") };
  const error = envelope?.error && typeof envelope.error.message === "string" ? envelope.error : { code: "internal_error", message: `the API answered ${res.status}` };
  return { ok: false, status: res.status, error, retryAfter: res.headers.get("retry-after") };
}
