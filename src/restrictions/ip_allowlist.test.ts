import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { allowlistCovers, compileAllowlist, normaliseIpEntry } from "./ip_allowlist";

// Reference semantics, written independently of ipaddr.js: addresses as integers, a range as
// (network, prefix), membership as "the top `prefix` bits agree".
const v4Text = (n: number) => [24, 16, 8, 0].map((shift) => (n >>> shift) & 0xff).join(".");
const v6Text = (n: bigint) => Array.from({ length: 8 }, (_, i) => ((n >> BigInt(112 - 16 * i)) & 0xffffn).toString(16)).join(":");
const inV4 = (ip: number, net: number, bits: number) => bits === 0 || ip >>> (32 - bits) === net >>> (32 - bits);
const inV6 = (ip: bigint, net: bigint, bits: number) => bits === 0 || ip >> BigInt(128 - bits) === net >> BigInt(128 - bits);
// The mapped block ::ffff:0:0/96 is the IPv4 space (ip_allowlist.ts, "Matching model"): a mapped client is the
// IPv4 client, which only a range inside the block (/96 or longer, stored as IPv4) admits; a shorter IPv6
// range that spans the block (::/0, ::/80) admits none of it, as it admits no IPv4 client.
const isMapped = (n: bigint) => n >> 32n === 0xffffn;
const allowedV6 = (ip: bigint, net: bigint, bits: number) => inV6(ip, net, bits) && (!isMapped(ip) || bits >= 96);
const MAPPED = 0xffffn << 32n;

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
        expect(allows([`${v6Text(net)}/${bits}`], v6Text(ip))).toBe(allowedV6(ip, net, bits));
      }),
      { numRuns: 2000 },
    );
  });

  // Reported failure (seed 1717975942, full run): [0n, 2^128 - 2^32, 80], i.e. :: against
  // ffff:ffff:ffff:ffff:ffff:ffff:0:0/80 (network bits set after the prefix). Deterministically refused here,
  // in Node and workerd; kept with every prefix of that pair and of its mirror so the edge stays pinned.
  it("the reported counterexample and its neighbours: :: against ffff:…:0:0 and the reverse, every prefix", () => {
    const high = (1n << 128n) - (1n << 32n);
    expect(normal("ffff:ffff:ffff:ffff:ffff:ffff:0:0/80")).toBe("ffff:ffff:ffff:ffff:ffff::/80");
    expect(allows(["ffff:ffff:ffff:ffff:ffff:ffff:0:0/80"], "0:0:0:0:0:0:0:0")).toBe(false);
    for (let bits = 0; bits <= 128; bits++) {
      for (const [ip, net] of [[0n, high], [high, 0n], [0n, 0n], [high, high], [0n, 1n], [1n, 0n], [(1n << 128n) - 1n, high]] as const) {
        expect(allows([`${v6Text(net)}/${bits}`], v6Text(ip)), `${v6Text(ip)} in ${v6Text(net)}/${bits}`).toBe(inV6(ip, net, bits));
      }
    }
    expect(allows(["::/0"], "::")).toBe(true);
    expect(allows(["::/128"], "::")).toBe(true);
    expect(allows(["::/128"], "::1")).toBe(false);
    expect(allows(["::1/128"], "::")).toBe(false);
  });

  it("IPv6 ranges against clients in the mapped block ::ffff:0:0/96 (random ranges, every prefix)", () => {
    const nearMapped = fc.oneof(u128, fc.constantFrom(0n, MAPPED, MAPPED - 1n, MAPPED + 0xffffffffn, MAPPED + 0x100000000n, 0xfffen << 32n), u32.map((v) => MAPPED | BigInt(v)));
    fc.assert(
      fc.property(u32, nearMapped, fc.integer({ min: 0, max: 128 }), (v4, net, bits) => {
        const ip = MAPPED | BigInt(v4);
        const list = [`${v6Text(net)}/${bits}`];
        const expected = allowedV6(ip, net, bits);
        expect(allows(list, v6Text(ip))).toBe(expected);
        // The two spellings of one client never get different answers.
        expect(allows(list, v4Text(v4))).toBe(expected);
      }),
      { numRuns: 2000 },
    );
  });

  it("mapped-block edges: /96 and longer are IPv4, shorter IPv6 ranges admit no mapped or IPv4 client", () => {
    expect(allows(["::ffff:0:0/96"], "10.0.0.1")).toBe(true);
    expect(allows(["::ffff:0:0/96"], "::ffff:10.0.0.1")).toBe(true);
    expect(allows(["::ffff:0:0/96"], "::fffe:0:1")).toBe(false);
    for (const range of ["::/0", "::/80", "::ffff:0:0/95", "::fffe:0:0/95"]) {
      expect(allows([range], "::ffff:10.0.0.1"), range).toBe(false);
      expect(allows([range], "10.0.0.1"), range).toBe(false);
    }
    expect(allows(["::ffff:0:0/95"], "::fffe:0:1")).toBe(true);
    expect(allows(["::/80"], "::1")).toBe(true);
    expect(allows(["::/80"], "::1:0:0:1")).toBe(false);
  });

  it("IPv4-compatible ::a.b.c.d is the IPv6 address ::a00:1 in every spelling, never the IPv4 host", () => {
    for (const spelling of ["::10.0.0.1", "::0:10.0.0.1", "0:0:0:0:0:0:10.0.0.1", "::a00:1"]) {
      expect(normal(spelling), spelling).toBe("::a00:1");
      expect(allows(["::a00:1"], spelling), spelling).toBe(true);
      expect(allows(["10.0.0.0/8"], spelling), spelling).toBe(false);
      expect(allows(["::ffff:0:0/96"], spelling), spelling).toBe(false);
    }
    expect(normal("::10.0.0.0/104")).toBe("::a00:0/104");
    expect(allows(["::10.0.0.0/104"], "::10.255.0.1")).toBe(true);
    expect(allows(["::10.0.0.0/104"], "10.0.0.1")).toBe(false);
  });

  it("IPv6: addresses that share a random prefix with the range are allowed, one bit off at the edge is not", () => {
    fc.assert(
      fc.property(u128, u128, fc.integer({ min: 1, max: 128 }), (net, low, bits) => {
        const hostMask = (1n << BigInt(128 - bits)) - 1n;
        const inside = (net & ~hostMask) | (low & hostMask);
        const flipped = inside ^ (1n << BigInt(128 - bits)); // the last prefix bit changed
        const list = [`${v6Text(net)}/${bits}`];
        // Inside the range, so allowed, unless it is an IPv4-mapped address and the range is shorter than
        // /96 (the matching model: such a range admits no IPv4 client). Reported (seed -1935482554, full
        // run): ::ffff:0:0 inside ::/80, rightly refused, against a reference that said "allowed".
        expect(allows(list, v6Text(inside))).toBe(allowedV6(inside, net, bits));
        expect(allows(list, v6Text(flipped))).toBe(false);
      }),
      { numRuns: 1000 },
    );
    expect(allows(["::/80"], "::ffff:0:0")).toBe(false);
    expect(allows(["::/80"], "::fffe:0:0")).toBe(true);
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

  it("a client address is parsed as strictly as an entry: shorthand IPv4, zone ids and odd tails are not addresses", () => {
    const list = compileAllowlist(["0.0.0.0/0", "::/0"]);
    for (const odd of ["10.1", "0x0a.0.0.1", "010.0.0.1", "167772161", "256.0.0.1", "fe80::1%eth0", "::ffff:010.0.0.1", "::01.2.3.4", " 10.0.0.1", "10.0.0.1/32", "1:2:3:4:5:6:7:8:9"]) {
      expect(list.allows(odd), odd).toBe(false);
    }
    for (const fine of ["10.0.0.1", "2001:DB8::1", "2001:0db8:0:0:0:0:0:1", "::", "0:0:0:0:0:0:0:0", "::ffff:10.0.0.1", "::FFFF:10.0.0.1", "1:2:3:4:5:6:1.2.3.4"]) {
      expect(list.allows(fine), fine).toBe(true);
    }
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

  it.each(["::ffff:010.0.0.1", "::01.2.3.4", "::ffff:0x1.2.3.4", "10.0.0.0/33", "2001:db8::/129", "10.0.0.0/-1", "10.0.0.0/", "10.0.0.0/8/8", "10.0.0.0/08x", "256.0.0.1", "10.1", "0x7f.0.0.1", "fe80::1%eth0", "example.com", "1.2.3.4 ", "", "::ffff:10.0.0.0/129"])(
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

  it("IPv6 and the mapped block: covering implies every address the inner range allows is allowed by the outer one", () => {
    const net = fc.oneof(u128, u32.map((v) => MAPPED | BigInt(v)), fc.constantFrom(0n, MAPPED, 0xfffen << 32n));
    fc.assert(
      fc.property(net, fc.integer({ min: 0, max: 128 }), net, fc.integer({ min: 0, max: 128 }), u128, (outerNet, outerBits, innerNet, innerBits, low) => {
        const outer = [normal(`${v6Text(outerNet)}/${outerBits}`)];
        const inner = [normal(`${v6Text(innerNet)}/${innerBits}`)];
        if (!allowlistCovers(outer, inner)) return;
        // An address inside the inner range, in both spellings when it is mapped.
        const hostMask = innerBits === 128 ? 0n : (1n << BigInt(128 - innerBits)) - 1n;
        const ip = (innerNet & ~hostMask) | (low & hostMask);
        const spellings = isMapped(ip) ? [v6Text(ip), v4Text(Number(ip & 0xffffffffn))] : [v6Text(ip)];
        for (const text of spellings) if (compileAllowlist(inner).allows(text)) expect(compileAllowlist(outer).allows(text)).toBe(true);
      }),
      { numRuns: 2000 },
    );
  });

  it("covers across the mapped block: mapped ranges are IPv4 ranges, IPv6 ranges never cover IPv4 ones", () => {
    expect(allowlistCovers(["0.0.0.0/0"], [normal("::ffff:10.0.0.0/104")])).toBe(true);
    expect(allowlistCovers([normal("::ffff:0:0/96")], ["10.0.0.0/8"])).toBe(true);
    expect(allowlistCovers(["::/0"], ["10.0.0.0/8"])).toBe(false);
    expect(allowlistCovers(["::/0"], [normal("::ffff:0:0/95")])).toBe(true);
    expect(allowlistCovers(["0.0.0.0/0"], [normal("::ffff:0:0/95")])).toBe(false);
    expect(allowlistCovers(["10.0.0.0/8"], [normal("::10.0.0.1")])).toBe(false);
  });
});
