import { describe, expect, it } from "vitest";
import { derToP1363, importPublicKeyPem, verifyDerSignature } from "./ecdsa";

const bytes = (...values: number[]) => new Uint8Array(values);
const b64 = (data: Uint8Array) => btoa(String.fromCharCode(...data));

/** DER of (r, s) as a signer would write it. */
function der(r: number[], s: number[]): Uint8Array {
  const int = (v: number[]) => [0x02, v.length, ...v];
  const body = [...int(r), ...int(s)];
  return bytes(0x30, body.length, ...body);
}

describe("derToP1363", () => {
  it("left-pads short integers and drops DER's sign byte", () => {
    const r = [0x00, 0x80, ...new Array(31).fill(1)]; // 33 bytes: top bit set, so DER prefixes 0x00
    const s = [0x05]; // a tiny s
    const out = derToP1363(der(r, s))!;
    expect(out).toHaveLength(64);
    expect([...out.subarray(0, 32)]).toEqual(r.slice(1));
    expect([...out.subarray(32)]).toEqual([...new Array(31).fill(0), 5]);
  });

  it("refuses anything that is not exactly one SEQUENCE of two INTEGERs of at most 32 bytes", () => {
    const ok = der([1], [2]);
    expect(derToP1363(ok)).not.toBeNull();
    expect(derToP1363(bytes(0x31, ...ok.subarray(1)))).toBeNull(); // not a SEQUENCE
    expect(derToP1363(bytes(...ok, 0))).toBeNull(); // trailing byte
    expect(derToP1363(der(new Array(33).fill(1), [2]))).toBeNull(); // r too long
    expect(derToP1363(bytes(0x30, 6, 0x03, 1, 1, 0x02, 1, 2))).toBeNull(); // BIT STRING, not INTEGER
    expect(derToP1363(bytes(0x30, 6, 0x02, 9, 1, 0x02, 1, 2))).toBeNull(); // length runs past the end
    expect(derToP1363(new Uint8Array())).toBeNull();
  });
});

describe("verifyDerSignature", () => {
  it("accepts the signer's DER signature over the exact bytes, and nothing else", async () => {
    const pair = (await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, true, ["sign", "verify"])) as CryptoKeyPair;
    const spki = new Uint8Array((await crypto.subtle.exportKey("spki", pair.publicKey)) as ArrayBuffer);
    const key = await importPublicKeyPem(`-----BEGIN PUBLIC KEY-----\n${b64(spki).match(/.{1,64}/g)!.join("\n")}\n-----END PUBLIC KEY-----\n`);
    const payload = new TextEncoder().encode('[{"token":"kg_x"}]');
    const raw = new Uint8Array(await crypto.subtle.sign({ name: "ECDSA", hash: "SHA-256" }, pair.privateKey, payload));
    const strip = (v: Uint8Array) => {
      let i = 0;
      while (i < v.length - 1 && v[i] === 0) i++;
      const out = [...v.subarray(i)];
      return out[0]! & 0x80 ? [0, ...out] : out;
    };
    const signature = b64(der(strip(raw.subarray(0, 32)), strip(raw.subarray(32))));
    expect(await verifyDerSignature(key, signature, payload)).toBe(true);
    expect(await verifyDerSignature(key, signature, new TextEncoder().encode('[{"token":"kg_y"}]'))).toBe(false);
    expect(await verifyDerSignature(key, b64(raw), payload)).toBe(false); // P1363 is not what GitHub sends
    expect(await verifyDerSignature(key, "%%%not base64", payload)).toBe(false);
  });
});
