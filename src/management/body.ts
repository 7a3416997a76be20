import type { MiddlewareHandler } from "hono";
import { KeygateError } from "../errors";
import { containsKey } from "../keys/format";
import type { ManagementEnv } from "./context";

const JSON_MEDIA_TYPE = /^application\/([\w.-]+\+)?json$/i;
const decoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false });

export function tooLarge(maxBytes: number): KeygateError {
  return new KeygateError("payload_too_large", `the request body exceeds ${maxBytes} bytes`);
}

/**
 * Reads at most `maxBytes`, counting what really arrives: a Content-Length can be absent (chunked) or wrong.
 *
 * Hand-written rather than Hono's `bodyLimit` (hono/body-limit), which does the same for a body
 * without Content-Length but trusts a declared one: with `Content-Length: 100` it reads whatever
 * follows, unbounded. workerd's HTTP server frames a request by its Content-Length, but a request
 * made in process (a service binding, `exports.default.fetch`, the console's calls into
 * `managementApp`) keeps whatever header and body it was given; test/management/keys.error.test.ts
 * ("... when the Content-Length is wrong") shows this one answering 413 there.
 */
export async function readCapped(body: ReadableStream<Uint8Array>, maxBytes: number): Promise<Uint8Array> {
  const reader = body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > maxBytes) {
      await reader.cancel().catch(() => {});
      throw tooLarge(maxBytes);
    }
    chunks.push(value);
  }
  const bytes = new Uint8Array(size);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return bytes;
}

/**
 * Every management body is JSON of bounded size. This reads it once, up front, and turns each way it
 * can be wrong into its own error: too large (413, by Content-Length before reading and by the bytes
 * actually streamed), not JSON (415), unparseable (400 `invalid_json`); the zod validators that follow
 * then only see well-formed JSON. An empty body counts as `{}` (JSON) or no body at all, so
 * `POST .../revoke` with `Content-Type: application/json` and nothing else is fine.
 */
export function jsonBody(options: { maxBytes: number }): MiddlewareHandler {
  const { maxBytes } = options;
  return async (c, next) => {
    const raw = c.req.raw;
    const mediaType = (raw.headers.get("content-type") ?? "").split(";")[0]!.trim();
    const isJson = JSON_MEDIA_TYPE.test(mediaType);
    if (raw.body === null) {
      // No body at all, but labelled JSON (GET and HEAD never get here with one): `{}`, as for an empty body.
      if (isJson && raw.method !== "GET" && raw.method !== "HEAD") c.req.raw = new Request(raw, { body: "{}" });
      return next();
    }
    const declared = Number(raw.headers.get("content-length") ?? "0");
    if (declared > maxBytes) throw tooLarge(maxBytes);
    const bytes = await readCapped(raw.body, maxBytes);
    if (bytes.byteLength === 0) {
      c.req.raw = new Request(raw, { body: isJson ? "{}" : null });
      return next();
    }
    if (!isJson) throw new KeygateError("unsupported_media_type", "request bodies must be JSON: send 'Content-Type: application/json'");
    try {
      JSON.parse(decoder.decode(bytes));
    } catch {
      throw new KeygateError("invalid_json", "the request body is not valid JSON");
    }
    // Hono's own bodyLimit does the same: the stream is spent, so the validators get a fresh copy.
    c.req.raw = new Request(raw, { body: bytes });
    return next();
  };
}

/**
 * SPEC §9: a GET or HEAD with a body is refused 400 `invalid_request`, as on the gateway. fetch() cannot
 * build one, but a client on the wire can (`Content-Length: 7` on a GET), and workerd hands it over with
 * its body: re-creating that request with a body (jsonBody's fresh copy) threw a TypeError, a 500.
 */
export function noBodyOnRead(): MiddlewareHandler {
  return async (c, next) => {
    const method = c.req.raw.method;
    if (c.req.raw.body !== null && (method === "GET" || method === "HEAD")) {
      throw new KeygateError("invalid_request", `a ${method} request must not have a body`);
    }
    return next();
  };
}

/**
 * An API key in a management URL is refused 400 `invalid_request`, as on the gateway (SPEC §9): a key pasted where
 * its id belongs (`GET /orgs/org_x/keys/kg_…`) went into the access logs of Cloudflare and every proxy on the way,
 * and came back whole in the 404's "key kg_… not found". Checked before authentication: a URL holding a key is
 * refused whoever sends it. Needs the config (the prefix), so it runs after initServices.
 */
export function noKeyInUrl(): MiddlewareHandler<ManagementEnv> {
  return async (c, next) => {
    const { keyPrefix } = c.get("services").config;
    const url = new URL(c.req.url);
    const target = url.pathname + url.search;
    if (containsKey(target, keyPrefix) || containsKey(decodedOrSelf(target), keyPrefix)) {
      throw new KeygateError("invalid_request", "an API key must not be sent in the URL, where logs keep it: address a key by its id (key_…); the key itself goes only in the Authorization header");
    }
    return next();
  };
}

/** Percent-escapes undone where they are valid (`%6Bg_…` is `kg_…` to whoever reads the log), else the text as is. */
function decodedOrSelf(text: string): string {
  try {
    return decodeURIComponent(text.replaceAll("+", " "));
  } catch {
    return text;
  }
}
