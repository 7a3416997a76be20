// An Upstash-REST-compatible bridge in front of a local redis-server, so the unmodified
// `@upstash/redis` client (and `@upstash/ratelimit` on top of it) talks HTTP to it exactly as it
// would to Upstash. It speaks what that client sends:
//
//   POST /            ["CMD", "arg", ...]             -> 200 {"result": ...} | 400 {"error": "..."}
//   POST /pipeline    [["CMD", ...], ...]             -> 200 [{"result": ...} | {"error": "..."}, ...]
//   POST /multi-exec  [["CMD", ...], ...] in MULTI/EXEC -> same shape, or 400 {"error"} if EXEC aborts
//
// with `Authorization: Bearer <token>` (401 otherwise) and, when the client sends
// `Upstash-Encoding: base64` (its default), every string in a result base64-encoded except a bare "OK".
//
// One translation Upstash itself does: its Lua scripts start with `#!lua flags=allow-key-locking`, a
// flag only Upstash knows (stock Redis refuses the script). The bridge drops unknown shebang flags
// before EVAL / SCRIPT LOAD and maps the SHA-1 the client computed from the original text to the
// SHA-1 of the script Redis actually cached, so EVALSHA hits as it does on Upstash.
import { createHash } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { connectResp, type RespConnection, RespError, type RespValue } from "./resp.ts";

const REDIS_SHEBANG_FLAGS = new Set(["no-writes", "allow-oom", "allow-stale", "no-cluster", "allow-cross-slot-keys"]);
const MAX_BODY_BYTES = 1024 * 1024;

export interface UpstashBridge {
  readonly url: string;
  readonly port: number;
  /** Stops listening and drops open connections: clients get connection errors, as from a dead store. */
  stop(): Promise<void>;
  /** Listens again on the same port. */
  start(): Promise<void>;
  /** Holds every answer back this long (0: answer at once), for "store is slow" tests. */
  setDelay(ms: number): void;
  /** Stops for good and closes the Redis connection. */
  close(): Promise<void>;
  /** HTTP requests (round trips) answered so far, for "one round trip per request" tests. */
  readonly requests: number;
}

export interface UpstashBridgeOptions {
  redisPort: number;
  token: string;
  /** 0 (default) picks a free port. */
  port?: number;
}

type Reply = { result: unknown } | { error: string };

export async function startUpstashBridge({ redisPort, token, port = 0 }: UpstashBridgeOptions): Promise<UpstashBridge> {
  // One connection, opened on first use and again after Redis dropped it.
  let connection: Promise<RespConnection> | undefined;
  const redis = async (): Promise<RespConnection> => {
    connection ??= connectResp(redisPort);
    const current = await connection.catch((err: unknown) => {
      connection = undefined;
      throw err;
    });
    if (!current.closed) return current;
    connection = undefined;
    return redis();
  };
  const scripts = new Map<string, string>(); // client's SHA-1 -> SHA-1 of the script Redis holds
  let delayMs = 0;
  let requests = 0;

  const server = createServer((req, res) => {
    requests++;
    handle(req, res).catch((err: unknown) => send(res, 500, { error: `ERR bridge: ${err instanceof Error ? err.message : String(err)}` }));
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (req.headers.authorization !== `Bearer ${token}`) return send(res, 401, { error: "Unauthorized" });
    if (req.method !== "POST") return send(res, 405, { error: "ERR only POST is supported by this bridge" });
    let body: unknown;
    try {
      body = JSON.parse(await readBody(req));
    } catch {
      return send(res, 400, { error: "ERR failed to parse command" });
    }
    const base64 = String(req.headers["upstash-encoding"] ?? "").toLowerCase() === "base64";
    const path = new URL(req.url ?? "/", "http://bridge").pathname.replace(/\/+$/, "") || "/";
    if (delayMs > 0) await new Promise((resolve) => setTimeout(resolve, delayMs));

    if (path === "/") {
      const command = asCommand(body);
      if (!command) return send(res, 400, { error: "ERR a command is a non-empty JSON array" });
      const [reply] = await run([command]);
      return reply instanceof RespError ? send(res, 400, { error: reply.message }) : send(res, 200, { result: toJson(reply!, base64) });
    }
    if (path === "/pipeline" || path === "/multi-exec") {
      const commands = Array.isArray(body) ? body.map(asCommand) : [];
      if (commands.length === 0 || commands.some((c) => !c)) return send(res, 400, { error: "ERR a pipeline is a non-empty JSON array of commands" });
      if (path === "/pipeline") return send(res, 200, (await run(commands as string[][])).map((r) => reply(r, base64)));
      const replies = await run([["MULTI"], ...(commands as string[][]), ["EXEC"]]);
      const exec = replies[replies.length - 1]!;
      if (exec instanceof RespError) return send(res, 400, { error: exec.message });
      if (!Array.isArray(exec)) return send(res, 400, { error: "ERR transaction aborted" });
      return send(res, 200, exec.map((r) => reply(r, base64)));
    }
    return send(res, 404, { error: `ERR unknown endpoint ${path}` });
  }

  /** Sends the commands in one write on the shared connection (so MULTI..EXEC cannot interleave with others). */
  async function run(commands: string[][]): Promise<RespValue[]> {
    const rewritten = commands.map(rewriteScripts);
    const replies = await (await redis()).send(rewritten);
    commands.forEach((command, i) => {
      const verb = command[0]!.toUpperCase();
      if (verb === "SCRIPT" && command[1]?.toUpperCase() === "LOAD" && Buffer.isBuffer(replies[i])) {
        replies[i] = sha1(command[2] ?? ""); // what the client expects back: the SHA-1 of its own text
      }
    });
    return replies;
  }

  function rewriteScripts(command: string[]): string[] {
    const verb = command[0]!.toUpperCase();
    if ((verb === "EVAL" || verb === "EVAL_RO") && command[1] !== undefined) {
      return [command[0]!, adoptScript(command[1]), ...command.slice(2)];
    }
    if (verb === "SCRIPT" && command[1]?.toUpperCase() === "LOAD" && command[2] !== undefined) {
      return [command[0]!, command[1]!, adoptScript(command[2])];
    }
    if ((verb === "EVALSHA" || verb === "EVALSHA_RO") && command[1] !== undefined) {
      return [command[0]!, scripts.get(command[1].toLowerCase()) ?? command[1], ...command.slice(2)];
    }
    return command;
  }

  function adoptScript(script: string): string {
    const redisScript = withRedisFlags(script);
    scripts.set(sha1(script), sha1(redisScript));
    return redisScript;
  }

  const listen = () =>
    new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(port, "127.0.0.1", () => {
        server.off("error", reject);
        port = (server.address() as { port: number }).port;
        resolve();
      });
    });
  const stop = () =>
    new Promise<void>((resolve) => {
      if (!server.listening) return resolve();
      server.close(() => resolve());
      server.closeAllConnections();
    });

  await listen();
  return {
    get url() {
      return `http://127.0.0.1:${port}`;
    },
    get port() {
      return port;
    },
    get requests() {
      return requests;
    },
    stop,
    start: async () => {
      if (!server.listening) await listen();
    },
    setDelay(ms) {
      delayMs = ms;
    },
    async close() {
      await stop();
      const current = connection && (await connection.catch(() => undefined));
      current?.close();
    },
  };
}

/** Control endpoint for tests inside workerd: extra bridges they may stop, restart and slow down without disturbing the shared one. */
export async function startBridgeControl({ redisPort, token }: { redisPort: number; token: string }): Promise<{ url: string; server: Server; close(): Promise<void> }> {
  const bridges = new Map<string, UpstashBridge>();
  let next = 0;
  const server = createServer((req, res) => {
    void (async () => {
      if (req.headers.authorization !== `Bearer ${token}`) return send(res, 401, { error: "Unauthorized" });
      const raw = await readBody(req);
      const parts = new URL(req.url ?? "/", "http://control").pathname.split("/").filter(Boolean);
      if (req.method === "POST" && parts.length === 1 && parts[0] === "bridges") {
        const bridge = await startUpstashBridge({ redisPort, token });
        const id = String(++next);
        bridges.set(id, bridge);
        return send(res, 201, { id, url: bridge.url });
      }
      const bridge = parts[0] === "bridges" ? bridges.get(parts[1] ?? "") : undefined;
      if (req.method !== "POST" || parts.length !== 3 || !bridge) return send(res, 404, { error: "no such bridge or action" });
      switch (parts[2]) {
        case "stop":
          await bridge.stop();
          break;
        case "start":
          await bridge.start();
          break;
        case "delay":
          bridge.setDelay(Number((JSON.parse(raw || "{}") as { ms?: number }).ms ?? 0));
          break;
        case "stats":
          return send(res, 200, { id: parts[1], url: bridge.url, requests: bridge.requests });
        case "close":
          await bridge.close();
          bridges.delete(parts[1]!);
          break;
        default:
          return send(res, 404, { error: "no such action" });
      }
      return send(res, 200, { id: parts[1], url: bridge.url });
    })().catch((err: unknown) => send(res, 500, { error: err instanceof Error ? err.message : String(err) }));
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}`,
    server,
    async close() {
      await Promise.all([...bridges.values()].map((b) => b.close()));
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}

/** Keeps the flags stock Redis knows (7.x) and drops the rest, e.g. Upstash's `allow-key-locking`. */
export function withRedisFlags(script: string): string {
  const match = /^#!lua(?:[ \t]+flags=([^\n]*))?[^\n]*(\n|$)/.exec(script);
  if (!match) return script;
  const flags = (match[1] ?? "")
    .split(",")
    .map((f) => f.trim())
    .filter((f) => REDIS_SHEBANG_FLAGS.has(f));
  return `#!lua${flags.length ? ` flags=${flags.join(",")}` : ""}${match[2]}${script.slice(match[0].length)}`;
}

function sha1(text: string): string {
  return createHash("sha1").update(text, "utf8").digest("hex");
}

function asCommand(value: unknown): string[] | undefined {
  if (!Array.isArray(value) || value.length === 0) return undefined;
  if (!value.every((v) => v === null || ["string", "number", "boolean"].includes(typeof v))) return undefined;
  return value.map((v) => String(v));
}

function reply(value: RespValue, base64: boolean): Reply {
  return value instanceof RespError ? { error: value.message } : { result: toJson(value, base64) };
}

/** Integers stay numbers, nil is null, strings are text or base64 (all but a bare "OK", as the client expects). */
function toJson(value: RespValue, base64: boolean): unknown {
  if (value === null || typeof value === "number") return value;
  if (value instanceof RespError) return value.message;
  if (Array.isArray(value)) return value.map((v) => toJson(v, base64));
  if (typeof value === "string") return base64 && value !== "OK" ? Buffer.from(value, "utf8").toString("base64") : value;
  return base64 ? value.toString("base64") : value.toString("utf8");
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) throw new Error("request body too large");
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString("utf8");
}

function send(res: ServerResponse, status: number, body: unknown): void {
  if (res.headersSent) return;
  const text = JSON.stringify(body);
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text) });
  res.end(text);
}
