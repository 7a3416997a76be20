import { type KeygateIdentity, type VerifyKeygateOptions, verifyIncoming } from "./verify.ts";

/**
 * The shape of Node's `http.IncomingMessage` this adapter uses, written out so the module needs
 * no Node types or built-ins and stays importable from Workers code.
 */
export interface NodeIncomingMessage extends AsyncIterable<unknown> {
  method?: string;
  url?: string;
  headers: Record<string, string | string[] | undefined>;
}

export interface VerifyNodeOptions extends VerifyKeygateOptions {
  /** The raw body when a framework has already read it (e.g. `express.raw()`); otherwise it is read from `req`. */
  body?: Uint8Array | string;
}

/**
 * `verifyKeygateRequest` for `node:http`. A signed body has to be read to check it, and a Node
 * stream can be read once, so it is returned: `body` holds the bytes, or is null when the
 * gateway did not sign the body (only with `allowUnsignedBody`), in which case `req` is unread.
 */
export async function verifyIncomingMessage(req: NodeIncomingMessage, secret: string | readonly string[], options: VerifyNodeOptions = {}): Promise<KeygateIdentity & { body: Uint8Array | null }> {
  let body: Uint8Array | null = null;
  const given = options.body;
  const identity = await verifyIncoming(
    {
      method: req.method ?? "GET",
      pathAndQuery: pathAndQueryOf(req.url ?? "/"),
      header: (name) => {
        const value = req.headers[name.toLowerCase()];
        return value === undefined ? null : Array.isArray(value) ? value.join(", ") : value;
      },
      readBody: async (maxBytes) => {
        body = given === undefined ? await readStream(req, maxBytes) : typeof given === "string" ? new TextEncoder().encode(given) : new Uint8Array(given);
        return body !== null && body.byteLength > maxBytes ? null : body;
      },
    },
    secret,
    options,
  );
  return { ...identity, body };
}

/** `req.url` is the request target: origin-form (`/a?b`) from a gateway, absolute-form only through a forward proxy. */
function pathAndQueryOf(target: string): string {
  if (target.startsWith("/")) return target;
  // `OPTIONS *` (asterisk-form) or garbage: no path the gateway signed, so the signature will not match;
  // a TypeError from new URL() here would have reached the origin's handler as a 500 instead of a refusal.
  if (!URL.canParse(target)) return target;
  const url = new URL(target);
  return url.pathname + url.search;
}

async function readStream(req: NodeIncomingMessage, maxBytes: number): Promise<Uint8Array | null> {
  const chunks: Uint8Array[] = [];
  let total = 0;
  // Iterated by hand: leaving a for-await early would destroy `req`, and with it the socket the refusal must go out on.
  const iterator = req[Symbol.asyncIterator]();
  for (;;) {
    const { done, value } = await iterator.next();
    if (done) break;
    const bytes = typeof value === "string" ? new TextEncoder().encode(value) : (value as Uint8Array);
    total += bytes.byteLength;
    // Stop reading a body that cannot be the one the gateway hashed.
    if (total > maxBytes) return null;
    chunks.push(bytes);
  }
  const all = new Uint8Array(total);
  let offset = 0;
  for (const chunk of chunks) {
    all.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return all;
}
