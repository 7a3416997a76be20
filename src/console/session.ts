// The console's session: an encrypted, expiring cookie that carries the signed-in credential, and the
// CSRF tokens bound to it. Hono's signed cookies (hono/cookie) only sign: the credential would sit
// readable in the browser's cookie store, so this seals the payload with AES-GCM (authenticated
// encryption: tampering fails to decrypt, so it is "signed" as well) using Web Crypto only.

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export const SESSION_COOKIE = "keygate_console";
/** Set before sign-in so the sign-in form has a CSRF token too (login CSRF). */
export const PRESESSION_COOKIE = "keygate_console_pre";

/** Who signed in, as the console remembers it between requests. The API re-checks the credential on every call. */
export interface Session {
  /** The operator token or org key. Only ever inside the sealed cookie and the Authorization header of in-process API calls. */
  credential: string;
  /** Random per sign-in: the CSRF token is derived from it, so signing out and in again changes every token. */
  sid: string;
  /** Epoch ms after which the cookie is refused even if the browser still sends it. */
  expiresAt: number;
  /** Epoch ms of sign-in: a CONSOLE_SESSION_TTL shortened since then shortens this session too. Absent in older cookies. */
  issuedAt?: number;
  kind: "operator" | "key";
  /** The key's org (org keys only). */
  orgId?: string;
  keyId?: string;
  scopes?: string[];
}

export interface SessionKeys {
  seal: CryptoKey;
  csrf: CryptoKey;
}

// Derived once per secret per isolate: HKDF is cheap, but not free, and the secret never changes within an isolate.
const derived = new Map<string, Promise<SessionKeys>>();

/** Two independent keys from one server secret (CONSOLE_SESSION_SECRET, or ADMIN_TOKEN): the raw secret is never used directly. */
export function sessionKeys(secret: string): Promise<SessionKeys> {
  let keys = derived.get(secret);
  if (!keys) {
    keys = deriveKeys(secret);
    derived.clear();
    derived.set(secret, keys);
  }
  return keys;
}

async function deriveKeys(secret: string): Promise<SessionKeys> {
  const base = await crypto.subtle.importKey("raw", encoder.encode(secret), "HKDF", false, ["deriveKey"]);
  const salt = encoder.encode("keygate console");
  const seal = await crypto.subtle.deriveKey({ name: "HKDF", hash: "SHA-256", salt, info: encoder.encode("session cookie v1") }, base, { name: "AES-GCM", length: 256 }, false, ["encrypt", "decrypt"]);
  const csrf = await crypto.subtle.deriveKey({ name: "HKDF", hash: "SHA-256", salt, info: encoder.encode("csrf token v1") }, base, { name: "HMAC", hash: "SHA-256", length: 256 }, false, ["sign", "verify"]);
  return { seal, csrf };
}

function base64url(bytes: Uint8Array): string {
  let text = "";
  for (const byte of bytes) text += String.fromCharCode(byte);
  return btoa(text).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function fromBase64url(text: string): Uint8Array | null {
  if (!/^[A-Za-z0-9_-]*$/.test(text)) return null;
  try {
    const binary = atob(text.replace(/-/g, "+").replace(/_/g, "/"));
    return Uint8Array.from(binary, (char) => char.charCodeAt(0));
  } catch {
    return null;
  }
}

export function randomToken(bytes = 18): string {
  return base64url(crypto.getRandomValues(new Uint8Array(bytes)));
}

/** `iv || ciphertext`, base64url. The cookie name is bound as additional data so a value cannot be replayed under another cookie. */
export async function sealSession(keys: SessionKeys, session: Session): Promise<string> {
  const iv = crypto.getRandomValues(new Uint8Array(12));
  const plaintext = encoder.encode(JSON.stringify(session));
  const sealed = new Uint8Array(await crypto.subtle.encrypt({ name: "AES-GCM", iv, additionalData: encoder.encode(SESSION_COOKIE) }, keys.seal, plaintext));
  const out = new Uint8Array(iv.length + sealed.length);
  out.set(iv);
  out.set(sealed, iv.length);
  return base64url(out);
}

/** The session, or null when the cookie is missing, tampered with, sealed with another secret, malformed or expired. */
export async function openSession(keys: SessionKeys, cookie: string | undefined, now: number): Promise<Session | null> {
  if (!cookie || cookie.length > 4096) return null;
  const bytes = fromBase64url(cookie);
  if (!bytes || bytes.length < 12 + 16) return null;
  let plaintext: ArrayBuffer;
  try {
    plaintext = await crypto.subtle.decrypt({ name: "AES-GCM", iv: bytes.slice(0, 12), additionalData: encoder.encode(SESSION_COOKIE) }, keys.seal, bytes.slice(12));
  } catch {
    return null;
  }
  let session: Session;
  try {
    session = JSON.parse(decoder.decode(plaintext)) as Session;
  } catch {
    return null;
  }
  if (typeof session.credential !== "string" || typeof session.sid !== "string" || typeof session.expiresAt !== "number") return null;
  return session.expiresAt > now ? session : null;
}

/** The CSRF token for forms under one session (or pre-session) id: HMAC of the id, so it cannot be forged without the server secret. */
export async function csrfToken(keys: SessionKeys, sid: string): Promise<string> {
  return base64url(new Uint8Array(await crypto.subtle.sign("HMAC", keys.csrf, encoder.encode(`csrf:${sid}`))));
}

/** Constant time: `crypto.subtle.verify` compares the MAC without an early exit. */
export async function validCsrfToken(keys: SessionKeys, sid: string, token: unknown): Promise<boolean> {
  if (typeof token !== "string" || token.length === 0 || token.length > 100) return false;
  const mac = fromBase64url(token);
  if (!mac) return false;
  return crypto.subtle.verify("HMAC", keys.csrf, mac, encoder.encode(`csrf:${sid}`));
}
