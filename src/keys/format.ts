import { encodeBase62, isBase62, randomBase62 } from "./base62";
import { crc32 } from "./crc32";

/** 43 base62 characters carry 43 * log2(62) = 256.03 bits. */
export const BODY_LENGTH = 43;
/** 62^6 > 2^32, so six base62 characters hold any CRC-32. */
export const CHECKSUM_LENGTH = 6;
export const IDENTIFIER_BODY_LENGTH = 8;

export function checksumOf(prefixAndBody: string): string {
  return encodeBase62(crc32(prefixAndBody), CHECKSUM_LENGTH);
}

/** A new API key: `<prefix><43 random base62><6 base62 CRC32 of prefix+body>`. */
export function generateKey(prefix: string): string {
  const prefixAndBody = prefix + randomBase62(BODY_LENGTH);
  return prefixAndBody + checksumOf(prefixAndBody);
}

export type ParsedKey = { ok: true; prefix: string; body: string; checksum: string } | { ok: false; reason: "prefix" | "length" | "charset" | "checksum" };

/**
 * Pure format check, done before any storage or limiter call: a key that fails here
 * cannot exist, so a flood of garbage costs one CRC and nothing else.
 */
export function parseKey(text: string, prefix: string): ParsedKey {
  if (!text.startsWith(prefix)) return { ok: false, reason: "prefix" };
  if (text.length !== prefix.length + BODY_LENGTH + CHECKSUM_LENGTH) return { ok: false, reason: "length" };
  const body = text.slice(prefix.length, prefix.length + BODY_LENGTH);
  const checksum = text.slice(prefix.length + BODY_LENGTH);
  if (!isBase62(body) || !isBase62(checksum)) return { ok: false, reason: "charset" };
  if (checksumOf(prefix + body) !== checksum) return { ok: false, reason: "checksum" };
  return { ok: true, prefix, body, checksum };
}

/** What may be shown for a key after creation: its visible identifier and its last 4 characters. */
export function displayParts(key: string, prefix: string): { identifier: string; last4: string } {
  return { identifier: key.slice(0, prefix.length + IDENTIFIER_BODY_LENGTH), last4: key.slice(-4) };
}

/**
 * Whether `text` holds a key-shaped run (`<prefix>` + 49 base62 characters, checksum or not). For
 * what a client may put anywhere, such as the URL it calls. Costs one substring search when the prefix
 * does not occur.
 */
export function containsKey(text: string, prefix: string): boolean {
  if (!text.includes(prefix)) return false;
  let pattern = keyPatterns.get(prefix);
  if (!pattern) keyPatterns.set(prefix, (pattern = new RegExp(keyRun(prefix))));
  return pattern.test(text);
}

/** One compiled pattern per prefix (a config has one; tests use a few). */
const keyPatterns = new Map<string, RegExp>();

/** The pattern source of a key-shaped run: the prefix and a body of base62 characters as long as a key's. */
function keyRun(prefix: string): string {
  return `${prefix}[0-9A-Za-z]{${BODY_LENGTH + CHECKSUM_LENGTH}}`;
}

/**
 * `text` with every key-shaped run cut to its visible identifier and "…", for text from outside that
 * is kept (a leak report's url, source and type go to the audit trail and webhooks): a key there is
 * never stored whole.
 */
export function redactKeys(text: string, prefix: string): string {
  if (!text.includes(prefix)) return text;
  const pattern = new RegExp(keyRun(prefix), "g");
  return text.replace(pattern, (key) => `${displayParts(key, prefix).identifier}…`);
}

/** Regex for secret scanners, documented in the README. */
export function secretScannerPattern(prefix: string): RegExp {
  return new RegExp(`\\b${prefix}[0-9A-Za-z]{${BODY_LENGTH}}[0-9A-Za-z]{${CHECKSUM_LENGTH}}\\b`);
}
