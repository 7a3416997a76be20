// Loopback stand-ins for the two outside parties of SPEC §10, started by test/global-setup.ts:
// GitHub's secret scanning public keys endpoint, and an operator's webhook receiver.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { Webhook } from "standardwebhooks";
import type { ReceivedWebhook } from "./received-webhook.ts";

export type { ReceivedWebhook };

interface KeysEndpoint {
  document: unknown;
  down: boolean;
  fetches: number;
}

/**
 * Routes:
 * - `PUT /github/{ns}/keys` `{document}` or `{down: true|false}`: what `GET /github/{ns}/keys` serves
 *   (the document as GitHub's JSON, or 503 while down); `GET /github/{ns}/stats` counts the fetches.
 *   Each test uses its own `ns`, so tests never share a keys document.
 * - `POST /webhooks`: the receiver. Verifies every delivery with `standardwebhooks` and the secret,
 *   records it, answers 204 (401 when the signature is wrong, 503 while a failure was asked for).
 * - `POST /webhooks/fail` `{org_id, times}`: the next `times` deliveries about that org answer 503.
 * - `GET /webhooks/received?org_id=`: the deliveries recorded for that org, in arrival order.
 */
export async function startLeakFixtures(options: { webhookSecret: string }): Promise<{ url: string; close(): Promise<void> }> {
  const endpoints = new Map<string, KeysEndpoint>();
  const received: ReceivedWebhook[] = [];
  const failures = new Map<string, number>();
  const receiver = new Webhook(options.webhookSecret);

  const endpoint = (ns: string) => {
    let found = endpoints.get(ns);
    if (!found) endpoints.set(ns, (found = { document: { public_keys: [] }, down: false, fetches: 0 }));
    return found;
  };

  const server: Server = createServer(async (req, res) => {
    const url = new URL(req.url ?? "/", "http://fixtures");
    const body = await readBody(req);
    const keys = /^\/github\/([\w-]+)\/(keys|stats)$/.exec(url.pathname);
    if (keys) {
      const state = endpoint(keys[1]!);
      if (keys[2] === "stats") return json(res, 200, { fetches: state.fetches });
      if (req.method === "PUT") {
        const change = JSON.parse(body) as { document?: unknown; down?: boolean };
        if (change.document !== undefined) state.document = change.document;
        if (change.down !== undefined) state.down = change.down;
        return json(res, 200, { ok: true });
      }
      state.fetches++;
      if (state.down) return json(res, 503, { message: "down for the test" });
      return json(res, 200, state.document);
    }
    if (url.pathname === "/webhooks/fail" && req.method === "POST") {
      const { org_id, times } = JSON.parse(body) as { org_id: string; times: number };
      failures.set(org_id, times);
      return json(res, 200, { ok: true });
    }
    if (url.pathname === "/webhooks/received") {
      const orgId = url.searchParams.get("org_id");
      return json(res, 200, received.filter((r) => r.body?.data.org_id === orgId));
    }
    if (url.pathname === "/webhooks" && req.method === "POST") {
      const headers = { "webhook-id": header(req, "webhook-id"), "webhook-timestamp": header(req, "webhook-timestamp"), "webhook-signature": header(req, "webhook-signature") };
      let verified = true;
      try {
        receiver.verify(body, headers);
      } catch {
        verified = false;
      }
      let parsed: ReceivedWebhook["body"] = null;
      try {
        parsed = JSON.parse(body) as ReceivedWebhook["body"];
      } catch {}
      const orgId = parsed?.data?.org_id ?? "";
      const failing = failures.get(orgId) ?? 0;
      const status = !verified ? 401 : failing > 0 ? 503 : 204;
      if (failing > 0 && verified) failures.set(orgId, failing - 1);
      received.push({ id: headers["webhook-id"], timestamp: headers["webhook-timestamp"], signature: headers["webhook-signature"], verified, status, body: parsed, raw: body });
      res.writeHead(status).end();
      return;
    }
    json(res, 404, { error: "no such fixture route" });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function header(req: IncomingMessage, name: string): string {
  const value = req.headers[name];
  return Array.isArray(value) ? value.join(",") : (value ?? "");
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

function json(res: ServerResponse, status: number, value: unknown): void {
  res.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(value));
}
