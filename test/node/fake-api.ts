// A stand-in management API on 127.0.0.1 for the CLI's tests: it records every request as
// "METHOD /path?query" (and its body) and answers with whatever the test's `respond` writes.
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";

export interface FakeApi {
  url: string;
  /** Every request so far, in order; a test empties it with `requests.length = 0`. */
  requests: string[];
  /** Every request's body as sent ("" for none), in the same order as `requests`; emptied with `bodies.length = 0`. */
  bodies: string[];
  close(): Promise<void>;
}

export async function startFakeApi(respond: (req: IncomingMessage, res: ServerResponse) => void): Promise<FakeApi> {
  const requests: string[] = [];
  const bodies: string[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      requests.push(`${req.method} ${req.url}`);
      bodies.push(Buffer.concat(chunks).toString("utf8"));
      respond(req, res);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as { port: number }).port}`,
    requests,
    bodies,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
