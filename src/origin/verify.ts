// `keygate/origin`: what an origin behind keygate runs to trust X-Keygate-* headers (SPEC §12).
// Web Crypto and Web-standard types only, so the same code runs in Node, Workers, Deno and Bun.
import {
  CONTENT_DIGEST_HEADER,
  contentDigest,
  importSigningKey,
  parseSignatureHeader,
  REQUEST_ID_HEADER,
  SIGNATURE_HEADER,
  type SignedRequest,
  type SigningKey,
  UNSIGNED_BODY,
  verifySignature,
} from "../gateway/signature.ts";
import type { ReplayCache } from "./replay_cache.ts";

export type KeygateSignatureErrorCode =
  /** No X-Keygate-Signature: the request did not come through a gateway that signs. */
  | "signature_missing"
  /** Not a `t=<seconds>,v2=<hex>` header (a v1 signature is refused here too). */
  | "signature_malformed"
  /** `t` is further from this clock than `toleranceSeconds`: stale, replayed late, or a clock skew. */
  | "timestamp_out_of_tolerance"
  /** Wrong secret, or any signed header, the method or the path changed. */
  | "signature_mismatch"
  /** The gateway did not hash this body (over its SIGNED_BODY_MAX_BYTES) and `allowUnsignedBody` is off. */
  | "body_unsigned"
  /** The body is over `maxBodyBytes`: not read, so not verified. */
  | "body_too_large"
  /** The body is not the one the gateway hashed. */
  | "body_digest_mismatch"
  /** This request id was accepted before: a replay. */
  | "replayed";

/** The one error this module throws for a request that must not be trusted; `code` says why. */
export class KeygateSignatureError extends Error {
  readonly code: KeygateSignatureErrorCode;

  constructor(code: KeygateSignatureErrorCode, message: string) {
    super(message);
    this.name = "KeygateSignatureError";
    this.code = code;
  }
}

export interface VerifyKeygateOptions {
  /** Largest accepted distance between the signature's `t` and this clock; default 300 s. */
  toleranceSeconds?: number;
  /** Refuses a request id seen before (within the tolerance window). Without one, replays inside the window pass. */
  replayCache?: ReplayCache;
  /** Accept requests whose body the gateway did not hash (over its SIGNED_BODY_MAX_BYTES); default false. */
  allowUnsignedBody?: boolean;
  /** Largest body read to check its digest; default 1 MiB, the gateway's default SIGNED_BODY_MAX_BYTES. */
  maxBodyBytes?: number;
  /** Epoch milliseconds; default Date.now. */
  now?: () => number;
}

/** Who called, as the gateway vouches for it. */
export interface KeygateIdentity {
  orgId: string;
  keyId: string;
  scopes: string[];
  tier: string;
  /** The gateway's id for this request (X-Request-Id). */
  requestId: string;
  /** The signature's `t`, unix seconds. */
  timestamp: number;
  /** True when the body was hashed into the signature and matched; false only with `allowUnsignedBody`. */
  bodySigned: boolean;
}

/** The parts of an incoming request the check needs, whatever server delivered it. */
export interface IncomingParts {
  method: string;
  pathAndQuery: string;
  header(name: string): string | null;
  /** The whole body, at most `maxBytes` (else null); called only when the body was signed. */
  readBody(maxBytes: number): Promise<Uint8Array | null>;
}

export const DEFAULT_TOLERANCE_SECONDS = 300;
export const DEFAULT_MAX_BODY_BYTES = 1024 * 1024;

/**
 * Verifies a Web-standard Request (Workers, Hono's `c.req.raw`, Deno, Bun, Node's global Request):
 * the signature, its age, the body digest, and (with a replay cache) that the request is new.
 * Reads a clone of the body, so the handler can still read it. `secret` may be a list during a
 * secret rotation: any one of them may have signed.
 */
export function verifyKeygateRequest(request: Request, secret: string | readonly string[], options: VerifyKeygateOptions = {}): Promise<KeygateIdentity> {
  const url = new URL(request.url);
  return verifyIncoming(
    {
      method: request.method,
      pathAndQuery: url.pathname + url.search,
      header: (name) => request.headers.get(name),
      readBody: (maxBytes) => readAtMost(request.clone().body, maxBytes),
    },
    secret,
    options,
  );
}

/** The check itself, for any server's request. Order matters: nothing unauthenticated is read or remembered. */
export async function verifyIncoming(incoming: IncomingParts, secret: string | readonly string[], options: VerifyKeygateOptions = {}): Promise<KeygateIdentity> {
  const header = incoming.header(SIGNATURE_HEADER);
  if (header === null) throw new KeygateSignatureError("signature_missing", `no ${SIGNATURE_HEADER} header`);
  const parsed = parseSignatureHeader(header);
  if (!parsed) throw new KeygateSignatureError("signature_malformed", `${SIGNATURE_HEADER} is not "t=<unix seconds>,v2=<64 hex digits>"`);

  const { tolerance, maxBytes } = checkedOptions(options);
  const nowMs = (options.now ?? Date.now)();
  const skew = Math.abs(nowMs / 1000 - parsed.timestamp);
  // Written so that NaN (a clock that returned nonsense) refuses: `skew > tolerance` would let it through.
  if (!(skew <= tolerance)) throw new KeygateSignatureError("timestamp_out_of_tolerance", `signed ${Math.round(skew)} s away from this clock; at most ${tolerance} s is accepted`);

  const digest = incoming.header(CONTENT_DIGEST_HEADER);
  const signed: SignedRequest = {
    timestamp: parsed.timestamp,
    requestId: incoming.header(REQUEST_ID_HEADER) ?? "",
    orgId: incoming.header("X-Keygate-Org-Id") ?? "",
    keyId: incoming.header("X-Keygate-Key-Id") ?? "",
    scopes: incoming.header("X-Keygate-Scopes") ?? "",
    tier: incoming.header("X-Keygate-Tier") ?? "",
    method: incoming.method,
    pathAndQuery: incoming.pathAndQuery,
    // The gateway sends Content-Digest exactly when it hashed the body; stripping it changes this field.
    body: digest ?? UNSIGNED_BODY,
  };
  // The MAC first: a forged request is refused before its body is read or its id remembered.
  if (!(await anySecretSigned(secret, parsed.mac, signed))) throw new KeygateSignatureError("signature_mismatch", "the signature does not match this request");

  if (digest === null) {
    if (!options.allowUnsignedBody) throw new KeygateSignatureError("body_unsigned", "the gateway did not hash this body (over its SIGNED_BODY_MAX_BYTES); pass allowUnsignedBody to accept it");
  } else {
    const body = await incoming.readBody(maxBytes);
    if (body === null) throw new KeygateSignatureError("body_too_large", `the body is over maxBodyBytes (${maxBytes}); raise it to the gateway's SIGNED_BODY_MAX_BYTES`);
    // Both sides are public here (the header is signed, the body is the request's): no timing to hide.
    if ((await contentDigest(body)) !== digest) throw new KeygateSignatureError("body_digest_mismatch", "the body is not the one the gateway signed");
  }

  // Last, so a tampered copy of a genuine request cannot use up its id before the genuine one arrives.
  if (options.replayCache && (await options.replayCache.seen(signed.requestId, (parsed.timestamp + tolerance) * 1000))) {
    throw new KeygateSignatureError("replayed", `request ${signed.requestId} was already accepted`);
  }
  return {
    orgId: signed.orgId,
    keyId: signed.keyId,
    scopes: signed.scopes.split(" ").filter(Boolean),
    tier: signed.tier,
    requestId: signed.requestId,
    timestamp: parsed.timestamp,
    bodySigned: digest !== null,
  };
}

/**
 * The options an origin passes, often straight from its environment (`Number(process.env.TOLERANCE)`).
 * NaN compares false with everything, so an unset variable turned the age check and the body bound
 * off: every old signature passed, every body was read whole. Like a missing secret, that is the
 * origin's misconfiguration: a TypeError that names the option, never a silent pass.
 */
function checkedOptions(options: VerifyKeygateOptions): { tolerance: number; maxBytes: number } {
  const tolerance = options.toleranceSeconds ?? DEFAULT_TOLERANCE_SECONDS;
  const maxBytes = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  if (typeof tolerance !== "number" || !Number.isFinite(tolerance) || tolerance < 0) {
    throw new TypeError(`verifyKeygateRequest: toleranceSeconds must be a finite number of seconds, 0 or more (got ${String(tolerance)})`);
  }
  if (typeof maxBytes !== "number" || !Number.isSafeInteger(maxBytes) || maxBytes < 0) {
    throw new TypeError(`verifyKeygateRequest: maxBodyBytes must be a whole number of bytes, 0 or more (got ${String(maxBytes)})`);
  }
  return { tolerance, maxBytes };
}

// An origin uses one or two secrets for its whole life; importing an HMAC key is async and not free.
const keys = new Map<string, Promise<SigningKey>>();

function keyFor(secret: string): Promise<SigningKey> {
  let key = keys.get(secret);
  if (!key) {
    if (keys.size >= 16) keys.clear();
    key = importSigningKey(secret);
    keys.set(secret, key);
  }
  return key;
}

async function anySecretSigned(secret: string | readonly string[], mac: Uint8Array<ArrayBuffer>, signed: SignedRequest): Promise<boolean> {
  const secrets = (typeof secret === "string" ? [secret] : [...secret]).filter((one) => typeof one === "string" && one !== "");
  // A missing secret is the origin's misconfiguration, not a bad request: say so instead of refusing everything.
  if (secrets.length === 0) throw new TypeError("verifyKeygateRequest: no signing secret given (set ORIGIN_SIGNING_SECRET)");
  for (const one of secrets) {
    if (await verifySignature(await keyFor(one), mac, signed)) return true;
  }
  return false;
}

/** Collects a body stream up to `maxBytes`; null (and the stream cancelled) past that. */
export async function readAtMost(stream: ReadableStream<Uint8Array> | null, maxBytes: number): Promise<Uint8Array | null> {
  if (stream === null) return new Uint8Array(0);
  const chunks: Uint8Array[] = [];
  let total = 0;
  const reader = stream.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > maxBytes) {
      await reader.cancel();
      return null;
    }
    chunks.push(value);
  }
  const bytes = new Uint8Array(total);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return bytes;
}
