export const BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/**
 * `length` uniformly random base62 characters from `crypto.getRandomValues`.
 * Rejection sampling (bytes >= 248 are discarded) keeps every character equally likely:
 * a plain `byte % 62` would favour the first 8 characters.
 */
export function randomBase62(length: number): string {
  let out = "";
  while (out.length < length) {
    const bytes = crypto.getRandomValues(new Uint8Array(length * 2));
    for (const byte of bytes) {
      if (byte >= 248) continue;
      out += BASE62[byte % 62];
      if (out.length === length) break;
    }
  }
  return out;
}

/** Fixed-width base62 rendering of a non-negative integer (left-padded with "0"). */
export function encodeBase62(value: number, width: number): string {
  let out = "";
  let rest = value;
  for (let i = 0; i < width; i++) {
    out = BASE62[rest % 62] + out;
    rest = Math.floor(rest / 62);
  }
  return out;
}

const BASE62_CHAR = new Uint8Array(128);
for (let i = 0; i < BASE62.length; i++) BASE62_CHAR[BASE62.charCodeAt(i)] = 1;

export function isBase62(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code >= 128 || BASE62_CHAR[code] === 0) return false;
  }
  return true;
}
