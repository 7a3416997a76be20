import ipaddr from "ipaddr.js";

/**
 * Per-key IP allowlists (pure: no I/O). Entries are IPv4/IPv6 addresses or CIDR ranges, parsed
 * with ipaddr.js (the parser behind Express's `trust proxy`) and stored in one normal form, so a
 * list reads the same whoever wrote it and two spellings of one range never both appear:
 * - IPv4 only in four-part decimal (`10.0.0.1`); shorthand like `10.1` or `0x7f.0.0.1`, which
 *   some parsers accept and others do not, is refused rather than guessed at;
 * - IPv6 in RFC 5952 text (`2001:db8::/32`), zone ids (`fe80::1%eth0`) refused;
 * - host bits cleared (`10.0.0.7/8` is `10.0.0.0/8`), a full-length prefix dropped (`1.2.3.4/32`
 *   is `1.2.3.4`);
 * - IPv4-mapped IPv6 (`::ffff:10.0.0.0/104`) stored as the IPv4 range it means (`10.0.0.0/8`),
 *   and a client connecting as `::ffff:10.1.2.3` is matched as `10.1.2.3`, so neither form can
 *   slip past a list written in the other.
 *
 * Matching model: the mapped block `::ffff:0:0/96` IS the IPv4 space, and the two families never
 * match each other. So `10.1.2.3` and `::ffff:10.1.2.3` always get the same answer, and an IPv6
 * range shorter than /96 that spans the mapped block (`::/0`, `::/80`, `::fffe:0:0/95`) admits
 * none of it, exactly as it admits no IPv4 client (as nginx's `allow` does; an allowlist fails
 * closed rather than reading `::/0` as "every IPv4 client too"). IPv4-compatible `::a.b.c.d`
 * (deprecated, RFC 4291) is an ordinary IPv6 address (`::a00:1`), for entries and clients alike.
 * A client address is parsed as strictly as an entry: shorthand IPv4 (`10.1`, `0x0a.0.0.1`) and
 * zone ids are not addresses, so an odd spelling can never land inside a range.
 */

export const MAX_ALLOWED_IPS = 50;
/** Longest normalised entry is an IPv6 range (39 + 4 characters); inputs may be longer before normalising. */
export const MAX_IP_ENTRY_LENGTH = 64;

type Address = ipaddr.IPv4 | ipaddr.IPv6;

interface Range {
  address: Address;
  bits: number;
}

export type IpEntry = { ok: true; value: string } | { ok: false; message: string };

const PREFIX = /^\d{1,3}$/;

/** ipaddr.IPv4.isValidFourPartDecimal's shape (no leading zeros, octal or hex), checked before one parse. */
const FOUR_PART_DECIMAL = /^(?:0|[1-9]\d{0,2})(?:\.(?:0|[1-9]\d{0,2})){3}$/;
const IPV4_COMPATIBLE = /^::(\d+\.\d+\.\d+\.\d+)$/;

/**
 * Entries and client addresses alike: four-part decimal IPv4 or IPv6 without a zone id. One parse
 * (isValid + parse would parse twice, and this runs per request): ipaddr.js throws on the rest.
 */
function parseAddress(text: string): Address | null {
  try {
    if (text.includes(":")) {
      if (text.includes("%")) return null;
      // An embedded IPv4 tail (`::ffff:10.0.0.1`) follows the IPv4 rule: ipaddr.js would also take `010.0.0.1`.
      const tail = text.slice(text.lastIndexOf(":") + 1);
      if (tail.includes(".") && !FOUR_PART_DECIMAL.test(tail)) return null;
      // ipaddr.js reads the deprecated IPv4-compatible `::a.b.c.d` as the MAPPED `::ffff:a.b.c.d`
      // (lib/ipaddr.js, deprecatedTransitional), so `::10.0.0.1` would be matched as the IPv4 host
      // 10.0.0.1 while its other spellings (`::a00:1`, `::0:10.0.0.1`) are the IPv6 address ::a00:1.
      const compatible = IPV4_COMPATIBLE.exec(text);
      return ipaddr.IPv6.parse(compatible ? `::0:${compatible[1]}` : text);
    }
    return FOUR_PART_DECIMAL.test(text) ? ipaddr.IPv4.parse(text) : null;
  } catch {
    return null;
  }
}

const fullBits = (address: Address) => (address.kind() === "ipv4" ? 32 : 128);

function parseRange(text: string): Range | string {
  const slash = text.indexOf("/");
  const addressText = slash === -1 ? text : text.slice(0, slash);
  let address = parseAddress(addressText);
  if (!address) return `"${addressText}" is not an IPv4 or IPv6 address`;
  let bits = fullBits(address);
  if (slash !== -1) {
    const prefix = text.slice(slash + 1);
    if (!PREFIX.test(prefix) || Number(prefix) > bits) return `"/${prefix}" is not a prefix length for ${address.kind() === "ipv4" ? "IPv4 (0-32)" : "IPv6 (0-128)"}`;
    bits = Number(prefix);
  }
  if (address instanceof ipaddr.IPv6 && address.isIPv4MappedAddress() && bits >= 96) {
    address = address.toIPv4Address();
    bits -= 96;
  }
  return { address: networkOf(address, bits), bits };
}

/** The range's first address (host bits cleared). */
function networkOf(address: Address, bits: number): Address {
  const bytes = address.toByteArray();
  for (let i = 0; i < bytes.length; i++) {
    const keep = Math.max(0, Math.min(8, bits - i * 8));
    bytes[i] = bytes[i]! & (0xff << (8 - keep)) & 0xff;
  }
  return ipaddr.fromByteArray(bytes);
}

function formatRange({ address, bits }: Range): string {
  const text = address instanceof ipaddr.IPv6 ? address.toRFC5952String() : address.toString();
  return bits === fullBits(address) ? text : `${text}/${bits}`;
}

/** Validates one entry and returns its normal form, or why it is not an address or range. */
export function normaliseIpEntry(text: string): IpEntry {
  if (text.length === 0 || text.length > MAX_IP_ENTRY_LENGTH) return { ok: false, message: `must be an IPv4/IPv6 address or CIDR range of 1-${MAX_IP_ENTRY_LENGTH} characters` };
  const range = parseRange(text);
  return typeof range === "string" ? { ok: false, message: range } : { ok: true, value: formatRange(range) };
}

/**
 * The ranges of a list as stored. The API stores only normalised entries, but D1 holds whatever was
 * written (direct SQL, a laxer release): an entry that is not an address or range matches nothing,
 * so a list of only such entries admits nobody (fails closed), and none of them is a 500 for every
 * request of the key.
 */
function rangesOf(entries: readonly unknown[]): Range[] {
  return entries.flatMap((entry) => {
    const range = typeof entry === "string" && entry.length <= MAX_IP_ENTRY_LENGTH ? parseRange(entry) : "not a string";
    return typeof range === "string" ? [] : [range];
  });
}

function contains(range: Range, address: Address): boolean {
  return address.kind() === range.address.kind() && address.match(range.address, range.bits);
}

/** The client's address as matched: IPv4-mapped IPv6 as IPv4; null when it is not an address at all. */
export function clientAddress(ip: string | null): Address | null {
  if (!ip) return null;
  const address = parseAddress(ip);
  return address instanceof ipaddr.IPv6 && address.isIPv4MappedAddress() ? address.toIPv4Address() : address;
}

export interface IpAllowlist {
  /** True when the address (CF-Connecting-IP) is inside one of the ranges; an absent or unparsable one never is. */
  allows(ip: string | null): boolean;
}

/**
 * A stored `allowed_ips` value as a list: null (or `[]`) is anywhere; anything else that is not an
 * array (a column written behind the API's back) is one entry that matches nothing, never "anywhere".
 */
export function storedEntries(value: unknown): readonly unknown[] | null {
  if (value == null) return null;
  const entries = Array.isArray(value) ? value : [null];
  return entries.length === 0 ? null : entries;
}

/** Parsed once per list, as stored (see rangesOf). */
export function compileAllowlist(entries: readonly unknown[]): IpAllowlist {
  const ranges = rangesOf(entries);
  return {
    allows(ip) {
      const address = clientAddress(ip);
      if (!address) return false;
      for (const range of ranges) if (contains(range, address)) return true;
      return false;
    },
  };
}

/**
 * True when every address of `inner` is inside one range of `outer` (lists as stored, see rangesOf).
 * An empty `outer` allows anywhere and so covers everything; an empty `inner` (anywhere) is covered
 * only by it. An entry that matches nothing is covered by anything and covers nothing.
 */
export function allowlistCovers(outer: readonly unknown[], inner: readonly unknown[]): boolean {
  if (outer.length === 0) return true;
  if (inner.length === 0) return false;
  const outerRanges = rangesOf(outer);
  return rangesOf(inner).every((range) => outerRanges.some((o) => o.bits <= range.bits && contains(o, range.address)));
}
