import { describe, expect, it } from "vitest";
import { generateKey } from "./format";
import { hashKey } from "./hash";

describe("hashKey", () => {
  // FIPS 180-2 / NIST test vectors for SHA-256.
  it.each([
    ["abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"],
    ["", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"],
    ["abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"],
  ])("matches the known SHA-256 vector for %j", async (input, expected) => {
    expect(await hashKey(input)).toBe(expected);
  });

  it("gives 64 lowercase hex characters that do not contain the key", async () => {
    const key = generateKey("kg_");
    const hash = await hashKey(key);
    expect(hash).toMatch(/^[0-9a-f]{64}$/);
    expect(hash).not.toContain(key.slice(3, 11));
  });

  it("is deterministic and distinguishes keys that differ in one character", async () => {
    const key = generateKey("kg_");
    const other = key.slice(0, -1) + (key.endsWith("0") ? "1" : "0");
    expect(await hashKey(key)).toBe(await hashKey(key));
    expect(await hashKey(other)).not.toBe(await hashKey(key));
  });
});
