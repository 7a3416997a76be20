// What every command needs: the API client built from --url/--token or the environment, and the
// output rules (tables on stdout for people; with --json, `data` alone on stdout and the rest on stderr).
import { type Command, InvalidArgumentError } from "commander";
import { type ApiResponse, MAX_PAGE, MAX_PER_PAGE, ManagementClient, type Pagination, type Query } from "./api.ts";
import { generic, printableJson } from "./render.ts";
import { UsageError } from "./errors.ts";
import { holdsKey, MIN_TOKEN_LENGTH } from "./secrets.ts";

export interface GlobalOptions {
  url?: string;
  token?: string;
  json?: boolean;
}

export interface Io {
  stdout: NodeJS.WriteStream;
  stderr: NodeJS.WriteStream;
  env: NodeJS.ProcessEnv;
  /** Where a confirmation is read from (keys revoke); process.stdin unless given. */
  stdin?: NodeJS.ReadStream;
}

export class Context {
  readonly json: boolean;
  private readonly io: Io;
  private readonly options: GlobalOptions;
  private client?: ManagementClient;

  constructor(command: Command, io: Io) {
    this.options = command.optsWithGlobals<GlobalOptions>();
    this.json = this.options.json === true;
    this.io = io;
  }

  get stdout(): NodeJS.WriteStream {
    return this.io.stdout;
  }

  get stdin(): NodeJS.ReadStream {
    return this.io.stdin ?? process.stdin;
  }

  get stderr(): NodeJS.WriteStream {
    return this.io.stderr;
  }

  /** Built on first use, so `--help` and usage errors never need a URL or token. */
  get api(): ManagementClient {
    if (!this.client) {
      const url = this.options.url ?? this.io.env.KEYGATE_URL?.trim();
      const token = this.options.token ?? this.io.env.KEYGATE_TOKEN?.trim();
      if (!url) throw new UsageError("no gateway URL: set KEYGATE_URL or pass --url (e.g. http://127.0.0.1:8787)");
      if (!token) throw new UsageError("no token: set KEYGATE_TOKEN (the operator's ADMIN_TOKEN or an org key) or pass --token");
      // Its path or query would go out in the request line, which the gateway and every proxy log.
      if (holdsKey(url)) throw new UsageError("--url/KEYGATE_URL holds an API key: give the gateway's base URL (the key goes nowhere in it); nothing was sent");
      if (token.length >= MIN_TOKEN_LENGTH && url.includes(token)) throw new UsageError("--url/KEYGATE_URL holds the token: give the gateway's base URL; the token goes in KEYGATE_TOKEN (or --token) only; nothing was sent");
      // The value is not echoed: what is in KEYGATE_URL when it is not a URL is often the token (the two swapped).
      if (!/^https?:\/\//i.test(url)) throw new UsageError("--url/KEYGATE_URL must start with http:// or https:// (e.g. http://127.0.0.1:8787)");
      const parsed = URL.canParse(url) ? new URL(url) : null;
      if (!parsed) throw new UsageError("--url/KEYGATE_URL is not a valid URL (e.g. http://127.0.0.1:8787)");
      // The management path is appended to the URL as text: a query or fragment would swallow it.
      if (parsed.search || parsed.hash) throw new UsageError("--url/KEYGATE_URL must not have a query (?) or fragment (#): give the gateway's base URL");
      // fetch() refuses URLs with credentials; the token goes in KEYGATE_TOKEN. The URL itself is not echoed: it holds a password.
      if (parsed.username || parsed.password) throw new UsageError("--url/KEYGATE_URL must not contain a user name or password; the token goes in KEYGATE_TOKEN (or --token)");
      // A header value cannot hold line breaks or non-Latin-1 text: fetch() would throw, reported as "cannot reach".
      if (!/^[\x21-\x7e]+$/.test(token)) throw new UsageError("--token/KEYGATE_TOKEN must be visible ASCII characters only (no spaces or line breaks): it is sent in an Authorization header");
      this.client = new ManagementClient(url, token);
    }
    return this.client;
  }

  /** The command's result: `data` as JSON with --json, else what `human` renders. */
  print(data: unknown, human: () => string = () => generic(data, this.io.stdout)): void {
    this.io.stdout.write(this.json ? `${printableJson(data)}\n` : `${human()}\n`);
  }

  /** Notes for people (paging hints, warnings): stdout normally, stderr with --json so stdout stays parseable. */
  note(text: string): void {
    (this.json ? this.io.stderr : this.io.stdout).write(`${text}\n`);
  }

  /** A list command: one page (with a hint when there are more), or every page with --all. */
  async list(path: string, query: Query, paging: PagingOptions, human: (rows: unknown[]) => string): Promise<void> {
    if (paging.all) {
      if (paging.page !== undefined) throw new UsageError("--all reads every page: drop --page");
      const rows = await this.api.all(path, query, paging.perPage ?? MAX_PER_PAGE);
      return this.print(rows, () => (rows.length === 0 ? "(none)" : human(rows)));
    }
    const response = await this.api.get(path, { ...query, page: paging.page, per_page: paging.perPage });
    const rows = Array.isArray(response.data) ? response.data : [];
    this.print(rows, () => (rows.length === 0 ? "(none)" : human(rows)));
    const hint = pagingHint(response);
    // A hint in the middle of --json output would break a parser: stderr then.
    if (hint) (this.json ? this.io.stderr : this.io.stdout).write(`${hint}\n`);
  }
}

export interface PagingOptions {
  page?: number;
  perPage?: number;
  all?: boolean;
}

function pagingHint(response: ApiResponse): string | null {
  const p: Pagination | undefined = response.pagination;
  if (!p) return null;
  const pages = Math.max(1, Math.ceil(p.total / p.per_page));
  if (pages <= 1 && p.page <= 1) return null;
  return `page ${p.page} of ${pages} (${p.total} in all); --page <n> for another, --all for every page`;
}

/** Adds --page, --per-page and --all to a list command. */
export function withPaging(command: Command): Command {
  return command
    .option("--page <n>", `page number, 1-${MAX_PAGE}`, pageNumber)
    .option("--per-page <n>", `items per page, 1-${MAX_PER_PAGE} (default 20; with --all, ${MAX_PER_PAGE})`, perPage)
    .option("--all", `read every page, --per-page rows at a time (default ${MAX_PER_PAGE}), and print them together`);
}

/** A whole number in decimal digits from `min` to `max`, as the API reads its integers ("1e2", "0x10" and "1.0" are not). */
export function wholeNumber(min: number, max: number): (value: string) => number {
  return (value) => {
    if (!/^\d+$/.test(value) || Number(value) < min || Number(value) > max) throw new InvalidArgumentError(`must be a whole number from ${min} to ${max}`);
    return Number(value);
  };
}

export const pageNumber = wholeNumber(1, MAX_PAGE);
export const perPage = wholeNumber(1, MAX_PER_PAGE);

/**
 * An org or key id argument. It becomes one path segment (percent-encoded), but "", "." and ".." cannot:
 * `keys revoke org_x ..` would POST /orgs/org_x/revoke and `orgs get ""` would list every org and
 * print it as one, exit 0, so an unset shell variable in a script did something else than asked.
 */
export function resourceId(value: string): string {
  // Not InvalidArgumentError: commander quotes the value in its message, and this value is a key.
  if (holdsKey(value)) throw new UsageError("an id argument holds an API key: give the key's id (key_…), never the key itself; nothing was sent");
  if (value.trim() === "" || value === "." || value === "..") throw new InvalidArgumentError(`must be an id like org_… or key_…, not ${JSON.stringify(value)}`);
  return value;
}

/**
 * A create's required fields come from their flag (or argument) or from --data, and the flag wins where both give
 * one (as every --data does): a field in neither is a usage error that names both ways, before anything is sent.
 */
export function requireFields(body: Record<string, unknown>, flags: Record<string, string>): void {
  const missing = Object.entries(flags).filter(([field]) => body[field] === undefined);
  if (missing.length === 0) return;
  const ways = missing.map(([field, flag]) => `${field} (${flag}, or "${field}" in --data)`);
  throw new UsageError(`${ways.join(" and ")} ${missing.length === 1 ? "is" : "are"} needed; nothing was sent`);
}

/** `--meta '{"team":"payments"}'`, `--data '{...}'`: a JSON object. */
export function jsonObject(value: string): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch {
    throw new InvalidArgumentError("must be JSON, e.g. '{\"team\":\"payments\"}'");
  }
  if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) throw new InvalidArgumentError("must be a JSON object");
  return parsed as Record<string, unknown>;
}

/** Repeatable, comma-separated: `--scopes a,b --scopes c` is [a, b, c]. */
export function list(value: string, previous: string[] = []): string[] {
  return [...previous, ...value.split(",").map((item) => item.trim()).filter(Boolean)];
}

export type Action<A extends unknown[]> = (context: Context, ...args: A) => Promise<void>;
