// The bundled demo origin: a plain Node HTTP server that stands in for the operator's API.
// `npm start` runs it beside the gateway; the test setup runs it too.
import { createHash } from "node:crypto";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";

const ECHO_BODY_LIMIT = 64 * 1024;

/**
 * Routes:
 * - `GET /demo/bytes/{n}`: streams n bytes (for download tests), in 64 KiB chunks.
 * - `GET /demo/slow/{ms}`: answers after ms milliseconds (for timeout tests).
 * - `/demo/status/{code}`: answers with that status (a Location for 3xx), to show statuses pass through.
 * - anything else: echoes method, path, query, headers and body (text up to 64 KiB, always its
 *   length and SHA-256) as JSON.
 */
export function createDemoOrigin(): Server {
  return createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://origin.local");
    const bytes = /^\/demo\/bytes\/(\d+)$/.exec(url.pathname);
    if (bytes && req.method === "GET") return streamBytes(res, Number(bytes[1]));
    const slow = /^\/demo\/slow\/(\d+)$/.exec(url.pathname);
    if (slow) {
      const timer = setTimeout(() => sendJson(res, 200, { slept_ms: Number(slow[1]) }), Number(slow[1]));
      res.on("close", () => clearTimeout(timer));
      return;
    }
    const status = /^\/demo\/status\/([1-5]\d\d)$/.exec(url.pathname);
    if (status && Number(status[1]) >= 200) return sendStatus(res, Number(status[1]));
    const hash = createHash("sha256");
    const kept: Buffer[] = [];
    let length = 0;
    req.on("data", (chunk: Buffer) => {
      hash.update(chunk);
      length += chunk.length;
      if (length <= ECHO_BODY_LIMIT) kept.push(chunk);
    });
    req.on("end", () => {
      sendJson(res, 200, {
        method: req.method,
        path: url.pathname,
        query: Object.fromEntries(url.searchParams),
        headers: req.headers,
        body: length <= ECHO_BODY_LIMIT ? Buffer.concat(kept).toString("utf8") : null,
        body_bytes: length,
        body_sha256: hash.digest("hex"),
      });
    });
  });
}

function sendJson(res: import("node:http").ServerResponse, status: number, value: unknown): void {
  const body = JSON.stringify(value);
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(body), "x-demo-origin": "keygate" });
  res.end(body);
}

function sendStatus(res: import("node:http").ServerResponse, status: number): void {
  res.setHeader("x-demo-status", String(status));
  if (status >= 300 && status < 400) res.setHeader("location", "/demo/moved");
  if (status === 204 || status === 304) return void res.writeHead(status, { "x-demo-origin": "keygate" }).end();
  sendJson(res, status, { status });
}

function streamBytes(res: import("node:http").ServerResponse, total: number): void {
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
export async function startDemoOrigin(port = 0, host = "127.0.0.1"): Promise<{ server: Server; url: string }> {
  const server = createDemoOrigin();
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => resolve());
  });
  const address = server.address() as AddressInfo;
  return { server, url: `http://${host}:${address.port}` };
}
