import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { allowlistCovers, compileAllowlist, normaliseIpEntry } from "./ip_allowlist";

// Reference semantics, written independently of ipaddr.js: addresses as integers, a range as
// (network, prefix), membership as "the top `prefix` bits agree".
const v4Text = (n: number) => [24, 16, 8, 0].map((shift) => (n >>> shift) & 0xff).join(".");
const v6Text = (n: bigint) => Array.from({ length: 8 }, (_, i) => ((n >> BigInt(112 - 16 * i)) & 0xffffn).toString(16)).join(":");
const inV4 = (ip: number, net: number, bits: number) => bits === 0 || ip >>> (32 - bits) === net >>> (32 - bits);
const inV6 = (ip: bigint, net: bigint, bits: number) => bits === 0 || ip >> BigInt(128 - bits) === net >> BigInt(128 - bits);

const u32 = fc.integer({ min: 0, max: 0xffffffff });
const u128 = fc.bigInt({ min: 0n, max: (1n << 128n) - 1n });

const normal = (text: string) => {
  const entry = normaliseIpEntry(text);
  if (!entry.ok) throw new Error(`${text}: ${entry.message}`);
  return entry.value;
};
const allows = (entries: string[], ip: string) => compileAllowlist(entries.map(normal)).allows(ip);

describe("CIDR matching agrees with bit arithmetic", () => {
  it("IPv4: an address is allowed exactly when its top prefix bits equal the range's", () => {
    fc.assert(
      fc.property(u32, u32, fc.integer({ min: 0, max: 32 }), (ip, net, bits) => {
        expect(allows([`${v4Text(net)}/${bits}`], v4Text(ip))).toBe(inV4(ip, net, bits));
      }),
      { numRuns: 2000 },
    );
  });

  it("IPv4: addresses near the range (first, last, one outside each end) are decided at the edge", () => {
    fc.assert(
      fc.property(u32, fc.integer({ min: 1, max: 32 }), (net, bits) => {
        const size = 2 ** (32 - bits);
        const first = Math.floor(net / size) * size;
        const last = first + size - 1;
        const list = [`${v4Text(net)}/${bits}`];
        expect(allows(list, v4Text(first))).toBe(true);
        expect(allows(list, v4Text(last))).toBe(true);
        if (first > 0) expect(allows(list, v4Text(first - 1))).toBe(false);
        if (last < 0xffffffff) expect(allows(list, v4Text(last + 1))).toBe(false);
      }),
      { numRuns: 1000 },
    );
  });

  it("IPv6: an address is allowed exactly when its top prefix bits equal the range's", () => {
    fc.assert(
      fc.property(u128, u128, fc.integer({ min: 0, max: 128 }), (ip, net, bits) => {
        expect(allows([`${v6Text(net)}/${bits}`], v6Text(ip))).toBe(inV6(ip, net, bits));
      }),
      { numRuns: 2000 },
    );
  });

  it("IPv6: addresses that share a random prefix with the range are allowed, one bit off at the edge is not", () => {
    fc.assert(
      fc.property(u128, u128, fc.integer({ min: 1, max: 128 }), (net, low, bits) => {
        const hostMask = (1n << BigInt(128 - bits)) - 1n;
        const inside = (net & ~hostMask) | (low & hostMask);
        const flipped = inside ^ (1n << BigInt(128 - bits)); // the last prefix bit changed
        const list = [`${v6Text(net)}/${bits}`];
        expect(allows(list, v6Text(inside))).toBe(true);
        expect(allows(list, v6Text(flipped))).toBe(false);
      }),
      { numRuns: 1000 },
    );
  });

  it("IPv4-mapped IPv6: a client connecting as ::ffff:a.b.c.d is matched as a.b.c.d, and a mapped range as the IPv4 range", () => {
    fc.assert(
      fc.property(u32, u32, fc.integer({ min: 0, max: 32 }), (ip, net, bits) => {
        const expected = inV4(ip, net, bits);
        expect(allows([`${v4Text(net)}/${bits}`], `::ffff:${v4Text(ip)}`)).toBe(expected);
        expect(allows([`::ffff:${v4Text(net)}/${96 + bits}`], v4Text(ip))).toBe(expected);
        expect(normal(`::ffff:${v4Text(net)}/${96 + bits}`)).toBe(normal(`${v4Text(net)}/${bits}`));
      }),
      { numRuns: 1000 },
    );
  });

  it("families never match each other (outside the mapped range)", () => {
    expect(allows(["0.0.0.0/0"], "2001:db8::1")).toBe(false);
    expect(allows(["::/0"], "10.0.0.1")).toBe(false);
    expect(allows(["::/0"], "2001:db8::1")).toBe(true);
    expect(allows(["0.0.0.0/0"], "::ffff:10.0.0.1")).toBe(true);
  });

  it("prefix edges: /0 is the whole family, a full prefix is one address", () => {
    expect(allows(["203.0.113.7/32"], "203.0.113.7")).toBe(true);
    expect(allows(["203.0.113.7/32"], "203.0.113.8")).toBe(false);
    expect(allows(["2001:db8::7/128"], "2001:db8::7")).toBe(true);
    expect(allows(["2001:db8::7/128"], "2001:db8::8")).toBe(false);
    expect(allows(["0.0.0.0/0"], "255.255.255.255")).toBe(true);
  });

  it("no client address, or one that is not an address, is never allowed", () => {
    const list = compileAllowlist(["0.0.0.0/0", "::/0"]);
    expect(list.allows(null)).toBe(false);
    expect(list.allows("")).toBe(false);
    expect(list.allows("not-an-ip")).toBe(false);
  });
});

describe("normalising entries", () => {
  it.each([
    ["10.0.0.7/8", "10.0.0.0/8"],
    ["203.0.113.7/32", "203.0.113.7"],
    ["203.0.113.7", "203.0.113.7"],
    ["2001:DB8:0:0:0:0:0:1", "2001:db8::1"],
    ["2001:db8::1/128", "2001:db8::1"],
    ["2001:db8:ffff::/32", "2001:db8::/32"],
    ["::ffff:192.0.2.1", "192.0.2.1"],
    ["::ffff:10.0.0.0/104", "10.0.0.0/8"],
    ["::ffff:0:0/96", "0.0.0.0/0"],
    ["::ffff:0:0/95", "::fffe:0:0/95"],
    ["0.0.0.0/0", "0.0.0.0/0"],
    ["::/0", "::/0"],
  ])("%s is stored as %s", (input, expected) => {
    expect(normaliseIpEntry(input)).toEqual({ ok: true, value: expected });
  });

  it.each(["10.0.0.0/33", "2001:db8::/129", "10.0.0.0/-1", "10.0.0.0/", "10.0.0.0/8/8", "10.0.0.0/08x", "256.0.0.1", "10.1", "0x7f.0.0.1", "fe80::1%eth0", "example.com", "1.2.3.4 ", "", "::ffff:10.0.0.0/129"])(
    "%j is refused",
    (input) => {
      expect(normaliseIpEntry(input).ok).toBe(false);
    },
  );

  it("normalising is idempotent and keeps the set of allowed addresses", () => {
    fc.assert(
      fc.property(u32, fc.integer({ min: 0, max: 32 }), u32, (net, bits, ip) => {
        const once = normal(`${v4Text(net)}/${bits}`);
        expect(normal(once)).toBe(once);
        expect(compileAllowlist([once]).allows(v4Text(ip))).toBe(inV4(ip, net, bits));
      }),
    );
  });
});

describe("allowlistCovers (narrowing, never widening)", () => {
  it("a sub-range is covered, a super-range or a disjoint range is not", () => {
    expect(allowlistCovers(["10.0.0.0/8"], ["10.1.0.0/16", "10.2.3.4"])).toBe(true);
    expect(allowlistCovers(["10.0.0.0/8"], ["10.0.0.0/7"])).toBe(false);
    expect(allowlistCovers(["10.0.0.0/8"], ["10.0.0.0/8", "11.0.0.1"])).toBe(false);
    expect(allowlistCovers(["2001:db8::/32"], ["2001:db8:1::/48"])).toBe(true);
    expect(allowlistCovers(["2001:db8::/32"], ["10.0.0.1"])).toBe(false);
  });

  it("anywhere (empty) covers everything and is covered only by anywhere", () => {
    expect(allowlistCovers([], ["10.0.0.0/8"])).toBe(true);
    expect(allowlistCovers([], [])).toBe(true);
    expect(allowlistCovers(["0.0.0.0/0"], [])).toBe(false);
  });

  it("covering implies every address the inner list allows is allowed by the outer one", () => {
    fc.assert(
      fc.property(u32, fc.integer({ min: 0, max: 32 }), u32, fc.integer({ min: 0, max: 32 }), u32, (outerNet, outerBits, innerNet, innerBits, ip) => {
        const outer = [normal(`${v4Text(outerNet)}/${outerBits}`)];
        const inner = [normal(`${v4Text(innerNet)}/${innerBits}`)];
        if (!allowlistCovers(outer, inner)) return;
        if (compileAllowlist(inner).allows(v4Text(ip))) expect(compileAllowlist(outer).allows(v4Text(ip))).toBe(true);
      }),
      { numRuns: 2000 },
    );
  });
});
