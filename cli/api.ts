// The management API as the CLI sees it: JSON over HTTPS with a bearer token, one envelope for
// success (`{data, pagination?}`) and one for errors (`{error: {code, message, details?}}`).
import { CliError, EXIT } from "./errors.ts";

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

const MAX_PAGE_SIZE = 100;
/** A runaway `--all` (a server that never stops paging) ends here rather than looping forever. */
const MAX_PAGES = 10_000;
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

  /** Every page of a list, `per_page` 100 at a time, as one array. */
  async all(path: string, query: Query = {}): Promise<unknown[]> {
    const items: unknown[] = [];
    for (let page = 1; page <= MAX_PAGES; page++) {
      const response = await this.get(path, { ...query, page, per_page: MAX_PAGE_SIZE });
      const data = Array.isArray(response.data) ? response.data : [];
      items.push(...data);
      if (data.length === 0 || !response.pagination || items.length >= response.pagination.total) break;
    }
    return items;
  }

  private async request(method: string, path: string, query: Query, body?: unknown): Promise<ApiResponse> {
    const url = new URL(this.base + path);
    for (const [name, value] of Object.entries(query)) if (value !== undefined) url.searchParams.set(name, String(value));
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
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
      });
    } catch (err) {
      // The URL only, never the request: its headers hold the token.
      throw new CliError(`cannot reach ${url.origin}: ${networkReason(err)}`, EXIT.api);
    }
    const text = await res.text();
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      throw new CliError(`${method} ${url.pathname} answered HTTP ${res.status} with a non-JSON body: is ${url.origin} a keygate gateway?`, EXIT.api);
    }
    if (!res.ok) {
      const error = (json as { error?: { code?: unknown; message?: unknown; details?: unknown } }).error;
      if (typeof error?.code === "string") {
        throw new ApiError(res.status, error.code, String(error.message ?? ""), Array.isArray(error.details) ? (error.details as ErrorDetail[]) : []);
      }
      throw new ApiError(res.status, `http_${res.status}`, `${method} ${url.pathname} failed without an error envelope`);
    }
    if (typeof json !== "object" || json === null || !("data" in json)) {
      throw new CliError(`${method} ${url.pathname} answered without a "data" field: is ${url.origin} a keygate gateway?`, EXIT.api);
    }
    return json as ApiResponse;
  }
}

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
