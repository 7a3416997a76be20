import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { BASE62, encodeBase62, isBase62, randomBase62 } from "./base62";

describe("randomBase62", () => {
  it("returns exactly the requested number of base62 characters", () => {
    for (const length of [0, 1, 8, 43, 200]) {
      const text = randomBase62(length);
      expect(text).toHaveLength(length);
      expect(isBase62(text)).toBe(true);
    }
  });

  it("draws every character about equally often (chi-square sanity check against modulo bias)", () => {
    // 62 * 2000 draws. With 61 degrees of freedom the statistic has mean 61 and sd ~11;
    // 130 is > 6 sd above the mean, so a uniform generator fails this about never, while
    // a plain `byte % 62` (first 8 characters 25% likelier) scores ~800.
    const perChar = 2000;
    const counts = new Map<string, number>();
    // Drawn in key-sized chunks, as keys are (getRandomValues caps one call at 64 KiB).
    for (let i = 0; i < perChar; i++) for (const ch of randomBase62(62)) counts.set(ch, (counts.get(ch) ?? 0) + 1);
    expect(counts.size).toBe(62);
    let chiSquare = 0;
    for (const ch of BASE62) chiSquare += ((counts.get(ch) ?? 0) - perChar) ** 2 / perChar;
    expect(chiSquare).toBeLessThan(130);
  });
});

describe("encodeBase62", () => {
  it.each([
    [0, 6, "000000"],
    [61, 1, "z"],
    [62, 2, "10"],
    [62 * 62 - 1, 2, "zz"],
    [0xffffffff, 6, "4gfFC3"],
  ])("encodes %d in width %d as %s", (value, width, expected) => {
    expect(encodeBase62(value, width)).toBe(expected);
  });

  it("is a fixed-width injection on 32-bit values", () => {
    fc.assert(
      fc.property(fc.nat({ max: 0xffffffff }), fc.nat({ max: 0xffffffff }), (a, b) => {
        const ea = encodeBase62(a, 6);
        expect(ea).toHaveLength(6);
        expect(ea === encodeBase62(b, 6)).toBe(a === b);
      }),
    );
  });
});

describe("isBase62", () => {
  it("accepts the alphabet and rejects anything else", () => {
    expect(isBase62(BASE62)).toBe(true);
    expect(isBase62("")).toBe(true);
    for (const bad of ["_", "-", " ", "+", "/", "=", "é", "\u0000", "abc!"]) expect(isBase62(bad)).toBe(false);
  });
});
