// The bundled demo origin: a plain Node HTTP server that stands in for the operator's API.
// `npm start` runs it beside the gateway; the test setup runs it too.
import { createHash } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { type KeygateIdentity, KeygateSignatureError, memoryReplayCache, verifyIncomingMessage } from "keygate/origin";

const ECHO_BODY_LIMIT = 64 * 1024;
/** SIGNED_BODY_MAX_BYTES's upper bound: whatever the gateway is set to, a body it signed fits. */
const SIGNED_BODY_LIMIT = 16 * 1024 * 1024;

/** The demo origin's address in the repository's wrangler.toml: `npm start` runs the demo when ORIGIN_URL is still this. */
export const DEMO_ORIGIN_URL = "http://127.0.0.1:8788";

export interface DemoOriginOptions {
  /** ORIGIN_SIGNING_SECRET: when set, every request must carry a valid keygate signature (401 otherwise). */
  signingSecret?: string;
}

/**
 * Routes:
 * - `GET /demo/bytes/{n}`: streams n bytes (for download tests), in 64 KiB chunks.
 * - `GET /demo/slow/{ms}`: answers after ms milliseconds (for timeout tests).
 * - `/demo/status/{code}`: answers with that status (a Location for 3xx), to show statuses pass through.
 * - `/demo/reset/{n}`: promises 4n bytes, sends n, then resets the connection (0: before the headers).
 * - `/demo/cors`: answers with the CORS headers an origin's own CORS middleware sends (allow any origin,
 *   with credentials, every method and header, `Vary: Accept-Encoding`), to show the gateway owns them.
 * - anything else: echoes method, request target, path, query, headers and body (text up to 64 KiB, always its
 *   length and SHA-256) as JSON, and with a signing secret the verified identity as `keygate`.
 *
 * With `signingSecret`, the way an operator's origin would use `keygate/origin`: a request that is
 * unsigned, tampered with, stale or replayed answers 401 `{error: {code, message}}` with the
 * verifier's code. Bodies over the gateway's SIGNED_BODY_MAX_BYTES arrive unsigned and are accepted.
 */
export function createDemoOrigin(options: DemoOriginOptions = {}): Server {
  const replayCache = memoryReplayCache();
  return createServer(async (req, res) => {
    let identity: VerifiedRequest | undefined;
    if (options.signingSecret) {
      try {
        identity = await verifyIncomingMessage(req, options.signingSecret, { replayCache, allowUnsignedBody: true, maxBodyBytes: SIGNED_BODY_LIMIT });
      } catch (err) {
        if (err instanceof KeygateSignatureError) return sendJson(res, 401, { error: { code: err.code, message: err.message } });
        console.error("demo origin: verification failed", err);
        return sendJson(res, 500, { error: { code: "internal_error", message: "the demo origin could not verify the request" } });
      }
    }
    route(req, res, identity);
  });
}

type VerifiedRequest = KeygateIdentity & { body: Uint8Array | null };

function route(req: IncomingMessage, res: ServerResponse, identity: VerifiedRequest | undefined): void {
  const url = new URL(req.url ?? "/", "http://origin.local");
  const bytes = /^\/demo\/bytes\/(\d+)$/.exec(url.pathname);
  if (bytes && req.method === "GET") return streamBytes(res, Number(bytes[1]));
  const slow = /^\/demo\/slow\/(\d+)$/.exec(url.pathname);
  if (slow) {
    const timer = setTimeout(() => sendJson(res, 200, { slept_ms: Number(slow[1]) }), Number(slow[1]));
    res.on("close", () => clearTimeout(timer));
    return;
  }
  const reset = /^\/demo\/reset\/(\d+)$/.exec(url.pathname);
  if (reset) return resetAfter(res, Number(reset[1]));
  if (url.pathname === "/demo/cors") return sendOwnCors(res);
  const status = /^\/demo\/status\/([1-5]\d\d)$/.exec(url.pathname);
  if (status && Number(status[1]) >= 200) return sendStatus(res, Number(status[1]));
  const hash = createHash("sha256");
  const kept: Buffer[] = [];
  let length = 0;
  const take = (chunk: Uint8Array) => {
    hash.update(chunk);
    length += chunk.length;
    if (length <= ECHO_BODY_LIMIT) kept.push(Buffer.from(chunk));
  };
  const echo = () => {
    const { body: _, ...verified } = identity ?? {};
    sendJson(res, 200, {
      method: req.method,
      // The request target exactly as it arrived: what the gateway signed (pathAndQuery), for verifier tests.
      target: req.url,
      path: url.pathname,
      query: Object.fromEntries(url.searchParams),
      headers: req.headers,
      body: length <= ECHO_BODY_LIMIT ? Buffer.concat(kept).toString("utf8") : null,
      body_bytes: length,
      body_sha256: hash.digest("hex"),
      ...(identity ? { keygate: verified } : {}),
    });
  };
  // A signed body was read by the verifier; an unsigned one is still in the stream.
  if (identity?.body) {
    take(identity.body);
    return echo();
  }
  req.on("data", take);
  req.on("end", echo);
}

function sendJson(res: ServerResponse, status: number, value: unknown): void {
  const body = JSON.stringify(value);
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(body), "x-demo-origin": "keygate" });
  res.end(body);
}

function sendStatus(res: ServerResponse, status: number): void {
  res.setHeader("x-demo-status", String(status));
  if (status >= 300 && status < 400) res.setHeader("location", "/demo/moved");
  if (status === 204 || status === 304) return void res.writeHead(status, { "x-demo-origin": "keygate" }).end();
  sendJson(res, status, { status });
}

function sendOwnCors(res: ServerResponse): void {
  res.writeHead(200, {
    "content-type": "application/json",
    "access-control-allow-origin": "*",
    "access-control-allow-credentials": "true",
    "access-control-allow-methods": "GET, POST, PUT, PATCH, DELETE",
    "access-control-allow-headers": "*",
    "access-control-expose-headers": "*",
    "access-control-max-age": "86400",
    "access-control-allow-private-network": "true",
    vary: "Accept-Encoding",
    "x-demo-origin": "keygate",
  });
  res.end(JSON.stringify({ cors: "origin's own" }));
}

/** Promises a large body, sends `sent` bytes of it, then resets the connection (0: before any header). */
function resetAfter(res: ServerResponse, sent: number): void {
  if (sent === 0) return void res.socket?.destroy();
  res.writeHead(200, { "content-type": "application/octet-stream", "content-length": sent * 4, "x-demo-origin": "keygate" });
  res.write(Buffer.alloc(sent, 0x62), () => setTimeout(() => res.socket?.resetAndDestroy(), 20));
}

function streamBytes(res: ServerResponse, total: number): void {
  const chunk = Buffer.alloc(64 * 1024, 0x61);
  res.writeHead(200, { "content-type": "application/octet-stream", "content-length": total });
  let sent = 0;
  const pump = (): void => {
    while (sent < total) {
      const n = Math.min(chunk.length, total - sent);
      sent += n;
      if (!res.write(n === chunk.length ? chunk : chunk.subarray(0, n))) return void res.once("drain", pump);
    }
    res.end();
  };
  pump();
}

/** Starts the demo origin on loopback; port 0 picks a free port. */
export async function startDemoOrigin(port = 0, host = "127.0.0.1", options: DemoOriginOptions = {}): Promise<{ server: Server; url: string }> {
  const server = createDemoOrigin(options);
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => resolve());
  });
  const address = server.address() as AddressInfo;
  return { server, url: `http://${host}:${address.port}` };
}
