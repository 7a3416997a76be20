import { describe, expect, it } from "vitest";
import { crc32 } from "./crc32";

describe("crc32", () => {
  // Published check values for CRC-32/ISO-HDLC (the zlib polynomial).
  it.each([
    ["123456789", 0xcbf43926],
    ["", 0x00000000],
    ["a", 0xe8b7be43],
    ["abc", 0x352441c2],
    ["The quick brown fox jumps over the lazy dog", 0x414fa339],
  ])("matches the known vector for %j", (input, expected) => {
    expect(crc32(input)).toBe(expected);
  });

  it("always returns an unsigned 32-bit integer", () => {
    for (const text of ["kg_", "zzzzzzzzzzzzzzzzzzzz", "\u00ff\u00fe"]) {
      const value = crc32(text);
      expect(Number.isInteger(value)).toBe(true);
      expect(value).toBeGreaterThanOrEqual(0);
      expect(value).toBeLessThanOrEqual(0xffffffff);
    }
  });
});
