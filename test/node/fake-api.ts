// A stand-in management API on 127.0.0.1 for the CLI's tests: it records every request as
// "METHOD /path?query" and answers with whatever the test's `respond` writes.
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";

export interface FakeApi {
  url: string;
  /** Every request so far, in order; a test empties it with `requests.length = 0`. */
  requests: string[];
  close(): Promise<void>;
}

export async function startFakeApi(respond: (req: IncomingMessage, res: ServerResponse) => void): Promise<FakeApi> {
  const requests: string[] = [];
  const server = createServer((req, res) => {
    requests.push(`${req.method} ${req.url}`);
    respond(req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as { port: number }).port}`,
    requests,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
