import { KeygateError } from "../errors";
import { CONTENT_DIGEST_HEADER, contentDigest, importSigningKey, REQUEST_ID_HEADER, SIGNATURE_HEADER, signatureHeader, UNSIGNED_BODY } from "./signature";
import { captureBody } from "./signed_body";

/**
 * SPEC §3 step 7: forward the request to the origin and hand its response back untouched.
 * Knows nothing about keys, so a bare pass-through worker (the benchmark's baseline) can call it
 * with no identity and pay exactly the same forwarding cost the gateway pays.
 */
export interface ProxyIdentity {
  orgId: string;
  keyId: string;
  /** Space-separated, as OAuth 2.0 writes a scope list (RFC 6749 §3.3); scope names contain no spaces. */
  scopes: string;
  tier: string;
}

/**
 * The origin as forwarding needs it, built once per config (src/isolate.ts): ORIGIN_URL, its base
 * path and, with ORIGIN_SIGNING_SECRET, the imported HMAC key.
 */
export class Origin {
  readonly url: URL;
  /** "/v2" for an ORIGIN_URL of https://api.example.com/v2/, "" for a bare origin. */
  readonly basePath: string;
  readonly #signingSecret: string | undefined;
  #signingKey: Promise<CryptoKey> | undefined;

  constructor(url: URL, signingSecret?: string) {
    this.url = url;
    this.basePath = url.pathname.replace(/\/+$/, "");
    this.#signingSecret = signingSecret;
  }

  get signs(): boolean {
    return this.#signingSecret !== undefined && this.#signingSecret !== "";
  }

  /** Importing an HMAC key is async and not free: done once (the secret never changes within a config). */
  signingKey(): Promise<CryptoKey> {
    this.#signingKey ??= importSigningKey(this.#signingSecret!);
    return this.#signingKey;
  }
}

export interface ProxyOptions {
  /** The path to forward, already normalised (see path.ts); `url.pathname` when absent. */
  path?: string;
  origin: Origin;
  /** Time allowed until the origin's response headers arrive; the body may then stream for as long as it takes. */
  timeoutMs: number;
  /** The caller, sent as X-Keygate-* identity headers. */
  identity?: ProxyIdentity;
  /** SIGNED_BODY_MAX_BYTES: bodies up to this size are hashed into the signature (see signed_body.ts). */
  signedBodyMaxBytes?: number;
}

/** Credentials are the gateway's business only: the origin never sees a key. */
const CREDENTIAL_HEADERS = ["authorization", "x-api-key"];
/** RFC 9110 §7.6.1 connection-specific fields, plus the de-facto Proxy-Connection and Keep-Alive. */
const HOP_BY_HOP_HEADERS = ["connection", "keep-alive", "proxy-connection", "te", "transfer-encoding", "upgrade", "proxy-authenticate", "proxy-authorization", "trailer"];
/**
 * Client-IP claims a client can forge (SPEC §3.7): the origin learns the client IP from
 * CF-Connecting-IP only, as X-Forwarded-For built by the gateway. Dropped, never extended.
 */
const CLIENT_IP_CLAIMS = ["x-forwarded-for", "x-real-ip", "true-client-ip", "forwarded"];
/**
 * Headers with which common origin frameworks re-read the request as another path or method: IIS,
 * Symfony, Laravel and Zend route on X-Original-URL / X-Rewrite-URL; Express's method-override,
 * Rails' Rack::MethodOverride and Google-style APIs honour X-HTTP-Method-Override and friends. The
 * route policy decided on the request's own method and path (SPEC §9: the origin must act on exactly
 * what the policy matched), so forwarding these would let a `demo:read` key send `GET /demo/x` with
 * `X-Original-URL: /admin` or a POST that the origin runs as DELETE. Dropped, like the IP claims.
 */
const REQUEST_REWRITE_HEADERS = ["x-original-url", "x-original-uri", "x-rewrite-url", "x-override-url", "x-http-method-override", "x-http-method", "x-method-override", "x-host", "x-original-host"];
const ALWAYS_DROPPED = new Set([...CREDENTIAL_HEADERS, ...HOP_BY_HOP_HEADERS, ...CLIENT_IP_CLAIMS, ...REQUEST_REWRITE_HEADERS, "host"]);
const KEYGATE_HEADER_PREFIX = "x-keygate-";
/**
 * Every X-Forwarded-* field is the gateway's to write: it sets -For, -Proto and -Host itself, and a
 * client's -Prefix, -Path, -Uri, -Port, -Server or -Scheme would change the URL (or links) the origin
 * builds for a request the policy judged by its real URL.
 */
const FORWARDED_PREFIX = "x-forwarded-";

export async function proxyToOrigin(request: Request, url: URL, options: ProxyOptions): Promise<Response> {
  const pathAndQuery = options.origin.basePath + (options.path ?? url.pathname) + url.search;
  const forwarded = forwardedHeaders(request.headers, url);

  const controller = new AbortController();
  // Also bounds the wait for a small body the signature has to hash before anything is sent.
  const timer = setTimeout(() => controller.abort(), options.timeoutMs);
  try {
    // The client's body stream itself unless the signature needs it whole: bytes flow through as they arrive.
    // A GET or HEAD reaches here only without content (the gateway refuses one with a body), but may
    // still carry an empty stream (`Content-Length: 0`), which fetch() would refuse to send.
    const method = request.method;
    let body: BodyInit | null = method === "GET" || method === "HEAD" ? null : request.body;
    let headers: HeadersInit = forwarded;
    if (options.identity) {
      const requestId = addIdentity(forwarded, options.identity);
      // Not async without a signing secret: an unsigned request awaits nothing before fetch().
      if (options.origin.signs) {
        const signed = new Headers(forwarded);
        body = await sign(signed, request, body === null, options.identity, requestId, options, pathAndQuery, controller.signal);
        headers = signed;
      }
    }
    const response = await fetch(options.origin.url.origin + pathAndQuery, {
      method,
      headers,
      body,
      // The origin's redirects are the client's to follow, not ours.
      redirect: "manual",
      signal: controller.signal,
    });
    // fetch() hands on any three digits (600, 999), but no Response can be built with them (the
    // gateway adds its headers to a copy): that was a 500 internal_error blamed on the gateway.
    if (response.status < 200 || response.status > 599) {
      await response.body?.cancel();
      console.error(`keygate: origin answered with status ${response.status}, which HTTP does not define`);
      throw new KeygateError("origin_unreachable", `the origin's answer was not a usable HTTP response (status ${response.status})`);
    }
    return response;
  } catch (err) {
    if (err instanceof KeygateError) throw err;
    if (controller.signal.aborted) {
      throw new KeygateError("origin_timeout", `the origin did not answer within ${options.timeoutMs} ms`);
    }
    console.error("keygate: origin unreachable", err instanceof Error ? err.message : String(err));
    throw new KeygateError("origin_unreachable", "the origin could not be reached");
  } finally {
    // Only the wait for headers is bounded: a large download may legitimately outlast the timeout.
    clearTimeout(timer);
  }
}

/**
 * The request headers the origin sees, as a list of `[name, value]` pairs: the client's, minus
 * credentials, hop-by-hop fields (and any field the client named in Connection), every
 * client-sent X-Keygate-* and X-Forwarded-* header, which only the gateway may set, every client-IP
 * claim and every header that would make the origin read another path or method; plus
 * X-Forwarded-For (from CF-Connecting-IP), -Proto, -Host. Built in one pass over the client's
 * headers. A list rather than a `Headers`: fetch() takes it in one call, where a `Headers` costs a
 * call into the runtime per append (the gateway adds five identity headers to every request).
 * Names come lower-cased and unique from iterating a `Headers`, and nothing is added twice.
 */
export function forwardedHeaders(incoming: Headers, url: URL): [string, string][] {
  const connection = incoming.get("connection");
  const listedInConnection = connection ? new Set(connection.toLowerCase().split(",").map((token) => token.trim())) : null;

  const headers: [string, string][] = [];
  for (const [name, value] of incoming) {
    if (ALWAYS_DROPPED.has(name) || name.startsWith(KEYGATE_HEADER_PREFIX) || name.startsWith(FORWARDED_PREFIX) || listedInConnection?.has(name)) continue;
    headers.push([name, value]);
  }

  // On Cloudflare, CF-Connecting-IP is set by the edge and a client cannot forge it; every other
  // client-IP header (X-Forwarded-For included) may have been written by the client, so it was dropped above.
  const clientIp = incoming.get("cf-connecting-ip");
  if (clientIp) headers.push(["x-forwarded-for", clientIp]);
  headers.push(["x-forwarded-proto", url.protocol.slice(0, -1)], ["x-forwarded-host", url.host]);
  return headers;
}

const NO_BODY = { signed: true, body: null, bytes: new Uint8Array(0) } as const;

/** 1 MiB, SIGNED_BODY_MAX_BYTES's default. */
const DEFAULT_SIGNED_BODY_MAX_BYTES = 1024 * 1024;

/**
 * Adds the identity headers and the request id; returns the request id. The X-Keygate-* names were
 * all dropped from the client's headers (forwardedHeaders), and a client's X-Request-Id is replaced, so none is sent twice.
 */
function addIdentity(headers: [string, string][], identity: ProxyIdentity): string {
  // The gateway's own id, never the client's: origins use it to refuse replays, so a client must not pick it.
  const requestId = crypto.randomUUID();
  const clientRequestId = headers.findIndex(([name]) => name === "x-request-id");
  if (clientRequestId >= 0) headers.splice(clientRequestId, 1);
  headers.push(
    ["x-keygate-org-id", identity.orgId],
    ["x-keygate-key-id", identity.keyId],
    ["x-keygate-scopes", identity.scopes],
    ["x-keygate-tier", identity.tier],
    [REQUEST_ID_HEADER, requestId],
  );
  return requestId;
}

/** With ORIGIN_SIGNING_SECRET: adds Content-Digest (small bodies) and X-Keygate-Signature (see signature.ts); returns the body to send. */
async function sign(headers: Headers, request: Request, bodyless: boolean, identity: ProxyIdentity, requestId: string, options: ProxyOptions, pathAndQuery: string, signal: AbortSignal): Promise<BodyInit | null> {
  const captured = bodyless ? NO_BODY : await captureBody(request, options.signedBodyMaxBytes ?? DEFAULT_SIGNED_BODY_MAX_BYTES, signal);
  let bodyField = UNSIGNED_BODY;
  // A client's Content-Digest is not the gateway's to vouch for: replaced when hashed, dropped otherwise,
  // so its presence always means "covered by the signature".
  if (captured.signed) headers.set(CONTENT_DIGEST_HEADER, (bodyField = await contentDigest(captured.bytes)));
  else headers.delete(CONTENT_DIGEST_HEADER);
  const key = await options.origin.signingKey();
  const { orgId, keyId, scopes, tier } = identity;
  const signed = { timestamp: Math.floor(Date.now() / 1000), requestId, orgId, keyId, scopes, tier, method: request.method, pathAndQuery, body: bodyField };
  headers.set(SIGNATURE_HEADER, await signatureHeader(key, signed));
  return captured.body;
}
