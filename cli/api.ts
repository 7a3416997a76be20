// The management API as the CLI sees it: JSON over HTTPS with a bearer token, one envelope for
// success (`{data, pagination?}`) and one for errors (`{error: {code, message, details?}}`).
import { CliError, EXIT, UsageError } from "./errors.ts";
import { holdsKey, MIN_TOKEN_LENGTH } from "./secrets.ts";

export interface Pagination {
  page: number;
  per_page: number;
  total: number;
}

export interface ApiResponse {
  data: unknown;
  pagination?: Pagination;
}

export interface ErrorDetail {
  field: string;
  message: string;
}

/** The gateway answered with its error envelope: exit 1 with its code and message. */
export class ApiError extends CliError {
  readonly status: number;
  readonly code: string;
  readonly details: ErrorDetail[];

  constructor(status: number, code: string, message: string, details: ErrorDetail[] = []) {
    super(message, EXIT.api);
    this.name = "ApiError";
    this.status = status;
    this.code = code;
    this.details = details;
  }
}

export type Query = Record<string, string | number | undefined>;

/**
 * The API's bounds on paging (pageQuery in src/management/schemas.ts): the CLI checks --page and --per-page against
 * them (a usage error, not a 400), and MAX_PAGE also ends a runaway `--all` (a server that never stops paging).
 */
export const MAX_PAGE = 10_000;
export const MAX_PER_PAGE = 100;
const REQUEST_TIMEOUT_MS = 30_000;

export class ManagementClient {
  private readonly base: string;
  private readonly token: string;

  constructor(url: string, token: string) {
    this.base = managementBase(url);
    this.token = token;
  }

  get(path: string, query: Query = {}): Promise<ApiResponse> {
    return this.request("GET", path, query);
  }

  post(path: string, body?: unknown): Promise<ApiResponse> {
    return this.request("POST", path, {}, body);
  }

  patch(path: string, body: unknown): Promise<ApiResponse> {
    return this.request("PATCH", path, {}, body);
  }

  /**
   * A key or the token in what would be sent as a URL (logged by the gateway and every proxy on the way) or
   * stored as a name or meta: refused before anything goes out, and the message does not repeat it.
   */
  private refuseSecrets(parts: string[]): void {
    const token = this.token.length >= MIN_TOKEN_LENGTH ? this.token : null;
    if (token && parts.some((part) => part.includes(token) || part.includes(encodeURIComponent(token)))) {
      throw new UsageError("an argument holds the token you authenticate with (KEYGATE_TOKEN / --token); nothing was sent");
    }
    if (parts.some(holdsKey)) {
      throw new UsageError("an argument holds an API key (give the key's id, key_…, not the key itself: a key goes in no URL, name or meta); nothing was sent");
    }
  }

  /**
   * Every page of a list, `perPage` rows at a time, as one array. Rows written while it pages (audit events, new
   * keys: newest first) push earlier rows onto the next page: a row met twice is kept once (by `id`). The end is
   * the first short page (an empty one when the total is a multiple of `perPage`), so neither the duplicates nor
   * a `total` that moved meanwhile decide it.
   */
  async all(path: string, query: Query = {}, perPage = MAX_PER_PAGE): Promise<unknown[]> {
    const items: unknown[] = [];
    const seen = new Set<string>();
    for (let page = 1; page <= MAX_PAGE; page++) {
      const response = await this.get(path, { ...query, page, per_page: perPage });
      const data = Array.isArray(response.data) ? response.data : [];
      for (const row of data) {
        const id = isObject(row) && typeof row.id === "string" ? row.id : null;
        if (id !== null && seen.has(id)) continue;
        if (id !== null) seen.add(id);
        items.push(row);
      }
      if (data.length < perPage) return items;
    }
    // Printing what was read and exiting 0 would pass a partial list off as the whole one.
    throw new CliError(`--all read ${MAX_PAGE} pages, the deepest the API serves, and there are more rows: raise --per-page (up to ${MAX_PER_PAGE}) or narrow the list with filters`, EXIT.api);
  }

  private async request(method: string, path: string, query: Query, body?: unknown): Promise<ApiResponse> {
    const url = new URL(this.base + path);
    for (const [name, value] of Object.entries(query)) if (value !== undefined) url.searchParams.set(name, String(value));
    const payload = body === undefined ? undefined : JSON.stringify(body);
    this.refuseSecrets([path, ...Object.values(query).map(String), payload ?? ""]);
    let res: Response;
    try {
      res = await fetch(url, {
        method,
        headers: {
          authorization: `Bearer ${this.token}`,
          accept: "application/json",
          "user-agent": "keygate-cli",
          ...(body === undefined ? {} : { "content-type": "application/json" }),
        },
        body: payload,
        // A redirect is reported, not followed: fetch would turn a POST into a GET (`orgs create` listing
        // orgs and exiting 0 with nothing created) and re-send the request to wherever the answer points.
        redirect: "manual",
        signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
      });
    } catch (err) {
      // The URL only, never the request: its headers hold the token.
      throw new CliError(`cannot reach ${url.origin}: ${networkReason(err)}`, EXIT.api);
    }
    if (res.status >= 300 && res.status < 400) {
      const location = res.headers.get("location");
      const target = location !== null && URL.canParse(location, url.href) ? new URL(location, url).origin : null;
      // Only the origin: the rest of a Location is the server's text, and the new base URL is what the operator needs.
      throw new CliError(
        `${method} ${url.pathname} answered HTTP ${res.status}, a redirect${target ? ` to ${target}` : ""}; not followed: set KEYGATE_URL (or --url) to the gateway's own address`,
        EXIT.api,
      );
    }
    const text = await res.text();
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      throw new CliError(`${method} ${url.pathname} answered HTTP ${res.status} with a non-JSON body: is ${url.origin} a keygate gateway?`, EXIT.api);
    }
    if (!res.ok) {
      // Any JSON may come back (a proxy's `null`, a half envelope): read what fits the envelope, never crash on the rest.
      const error = isObject(json) && isObject(json.error) ? json.error : null;
      if (typeof error?.code === "string") {
        const details = Array.isArray(error.details) ? error.details.filter(isObject).map((detail) => ({ field: String(detail.field ?? ""), message: String(detail.message ?? "") })) : [];
        // The server's 429s say "retry later"; Retry-After says when, and a script sleeping on it needs the number.
        const retryAfter = res.status === 429 || res.status === 503 ? res.headers.get("retry-after") : null;
        const message = typeof error.message === "string" ? error.message : "";
        throw new ApiError(res.status, error.code, retryAfter && /^\d+$/.test(retryAfter) ? `${message} (retry after ${retryAfter} s)` : message, details);
      }
      throw new ApiError(res.status, `http_${res.status}`, `${method} ${url.pathname} failed without an error envelope`);
    }
    if (typeof json !== "object" || json === null || !("data" in json)) {
      throw new CliError(`${method} ${url.pathname} answered without a "data" field: is ${url.origin} a keygate gateway?`, EXIT.api);
    }
    return json as ApiResponse;
  }
}

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === "object" && value !== null && !Array.isArray(value);

/** `https://gw.example.com`, `…/` and `…/_keygate/v1` all mean the same management API. */
export function managementBase(url: string): string {
  const trimmed = url.replace(/\/+$/, "");
  return trimmed.endsWith("/_keygate/v1") ? trimmed : `${trimmed}/_keygate/v1`;
}

function networkReason(err: unknown): string {
  if (err instanceof Error && err.name === "TimeoutError") return `no answer within ${REQUEST_TIMEOUT_MS / 1000} s`;
  const cause = (err as { cause?: { code?: string; message?: string } }).cause;
  return cause?.code ?? cause?.message ?? (err instanceof Error ? err.message : String(err));
}
