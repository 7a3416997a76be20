import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { KEY_PREFIX_PATTERN } from "../config";
import { BASE62 } from "./base62";
import { BODY_LENGTH, CHECKSUM_LENGTH, checksumOf, displayParts, generateKey, parseKey, secretScannerPattern } from "./format";

const prefixArb = fc.stringMatching(KEY_PREFIX_PATTERN);
const base62Char = fc.constantFrom(...BASE62);
const anyChar = fc.oneof(base62Char, fc.integer({ min: 0, max: 0xffff }).map((code) => String.fromCharCode(code)));

describe("generateKey", () => {
  it("produces prefix + 43 base62 body + 6 base62 checksum", () => {
    const key = generateKey("kg_");
    expect(key).toMatch(/^kg_[0-9A-Za-z]{49}$/);
    expect(key).toHaveLength(3 + BODY_LENGTH + CHECKSUM_LENGTH);
    expect(key.slice(-CHECKSUM_LENGTH)).toBe(checksumOf(key.slice(0, -CHECKSUM_LENGTH)));
  });

  it("never repeats a key", () => {
    const keys = new Set(Array.from({ length: 1000 }, () => generateKey("kg_")));
    expect(keys.size).toBe(1000);
  });

  it("every generated key parses, for any valid prefix", () => {
    fc.assert(
      fc.property(prefixArb, (prefix) => {
        const key = generateKey(prefix);
        const parsed = parseKey(key, prefix);
        expect(parsed).toEqual({ ok: true, prefix, body: key.slice(prefix.length, -CHECKSUM_LENGTH), checksum: key.slice(-CHECKSUM_LENGTH) });
      }),
    );
  });
});

describe("parseKey", () => {
  it("rejects any single-character substitution in body or checksum", () => {
    fc.assert(
      fc.property(prefixArb, fc.nat(), base62Char, (prefix, at, replacement) => {
        const key = generateKey(prefix);
        const i = prefix.length + (at % (BODY_LENGTH + CHECKSUM_LENGTH));
        fc.pre(key[i] !== replacement);
        const tampered = key.slice(0, i) + replacement + key.slice(i + 1);
        expect(parseKey(tampered, prefix)).toEqual({ ok: false, reason: "checksum" });
      }),
      { numRuns: 500 },
    );
  });

  it("rejects any single-character change anywhere, including the prefix and non-base62 characters", () => {
    fc.assert(
      fc.property(prefixArb, fc.nat(), anyChar, (prefix, at, replacement) => {
        const key = generateKey(prefix);
        const i = at % key.length;
        fc.pre(key[i] !== replacement);
        const tampered = key.slice(0, i) + replacement + key.slice(i + 1);
        expect(parseKey(tampered, prefix).ok).toBe(false);
      }),
      { numRuns: 500 },
    );
  });

  it("names the reason: prefix, length, charset, checksum", () => {
    const key = generateKey("kg_");
    expect(parseKey(key, "mayo_ak_")).toEqual({ ok: false, reason: "prefix" });
    expect(parseKey("kh_" + key.slice(3), "kg_")).toEqual({ ok: false, reason: "prefix" });
    expect(parseKey(key.slice(0, -1), "kg_")).toEqual({ ok: false, reason: "length" });
    expect(parseKey(key + "0", "kg_")).toEqual({ ok: false, reason: "length" });
    expect(parseKey("", "kg_")).toEqual({ ok: false, reason: "prefix" });
    expect(parseKey("kg_" + "-".repeat(BODY_LENGTH) + key.slice(-CHECKSUM_LENGTH), "kg_")).toEqual({ ok: false, reason: "charset" });
    const flipped = key.slice(0, 10) + (key[10] === "a" ? "b" : "a") + key.slice(11);
    expect(parseKey(flipped, "kg_")).toEqual({ ok: false, reason: "checksum" });
  });

  it("a key made for one prefix fails under any other prefix", () => {
    fc.assert(
      fc.property(prefixArb, prefixArb, (made, expected) => {
        fc.pre(made !== expected);
        expect(parseKey(generateKey(made), expected).ok).toBe(false);
      }),
    );
  });

  it("a well-formed body with another prefix's checksum fails", () => {
    const key = generateKey("kg_");
    const moved = "kx_" + key.slice(3);
    expect(parseKey(moved, "kx_")).toEqual({ ok: false, reason: "checksum" });
  });
});

describe("displayParts", () => {
  it("shows the prefix with 8 body characters and the last 4 characters, nothing more", () => {
    const key = generateKey("mayo_ak_");
    const { identifier, last4 } = displayParts(key, "mayo_ak_");
    expect(identifier).toBe(key.slice(0, "mayo_ak_".length + 8));
    expect(identifier).toMatch(/^mayo_ak_[0-9A-Za-z]{8}$/);
    expect(last4).toBe(key.slice(-4));
    expect(identifier.length + last4.length).toBeLessThan(key.length / 2);
  });
});

describe("secretScannerPattern", () => {
  it("finds generated keys inside text and ignores truncated ones", () => {
    const key = generateKey("kg_");
    const pattern = secretScannerPattern("kg_");
    expect(pattern.test(`export API_KEY="${key}"`)).toBe(true);
    expect(pattern.test(`token ${key.slice(0, -1)} end`)).toBe(false);
    expect(pattern.test(`token ${generateKey("other_")} end`)).toBe(false);
  });
});
