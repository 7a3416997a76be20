/**
 * GitHub signs secret scanning payloads with ECDSA P-256 / SHA-256 and sends the signature as base64
 * ASN.1 DER (`SEQUENCE { INTEGER r, INTEGER s }`). WebCrypto verifies only the IEEE P1363 form
 * (r and s as 32 big-endian bytes each), so the DER is unpacked here; no library needed for 30 lines.
 */
const COORDINATE_BYTES = 32;

/** The 64-byte r||s of a DER ECDSA P-256 signature, or null when it is not exactly that. */
export function derToP1363(der: Uint8Array): Uint8Array | null {
  // A P-256 signature's DER is at most 72 bytes, so every length fits the one-byte short form.
  if (der.length < 8 || der[0] !== 0x30 || der[1] !== der.length - 2) return null;
  const out = new Uint8Array(2 * COORDINATE_BYTES);
  let offset = 2;
  for (let i = 0; i < 2; i++) {
    if (der[offset] !== 0x02) return null;
    const length = der[offset + 1]!;
    const start = offset + 2;
    if (length === 0 || length > COORDINATE_BYTES + 1 || start + length > der.length) return null;
    let integer = der.subarray(start, start + length);
    // DER adds one 0x00 when the top bit is set (the integer is positive); more would not be DER.
    if (integer[0] === 0x00 && integer.length > 1) integer = integer.subarray(1);
    if (integer.length > COORDINATE_BYTES) return null;
    out.set(integer, (i + 1) * COORDINATE_BYTES - integer.length);
    offset = start + length;
  }
  return offset === der.length ? out : null;
}

function base64Bytes(text: string): Uint8Array | null {
  try {
    return Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
  } catch {
    return null;
  }
}

/** Imports one `-----BEGIN PUBLIC KEY-----` (SPKI) P-256 key for verifying. */
export async function importPublicKeyPem(pem: string): Promise<CryptoKey> {
  const body = pem.replace(/-----(BEGIN|END) PUBLIC KEY-----/g, "").replace(/\s+/g, "");
  const der = base64Bytes(body);
  if (!der) throw new Error("public key is not base64 PEM");
  return crypto.subtle.importKey("spki", der, { name: "ECDSA", namedCurve: "P-256" }, false, ["verify"]);
}

/** True when `signatureBase64` (DER) is `key`'s signature over exactly `payload`. */
export async function verifyDerSignature(key: CryptoKey, signatureBase64: string, payload: Uint8Array): Promise<boolean> {
  const der = base64Bytes(signatureBase64.trim());
  const raw = der && derToP1363(der);
  if (!raw) return false;
  return crypto.subtle.verify({ name: "ECDSA", hash: "SHA-256" }, key, raw, payload);
}
