import type { KeyRecord } from "../store/key_records";
import { KeygateError } from "../errors";
import { compileAllowlist, type IpAllowlist, storedEntries } from "./ip_allowlist";

/**
 * Each key's allowlist, parsed once per record the key cache hands out (the memory tier returns the
 * same object until its TTL ends), not once per request: a 50-entry list is 50 ipaddr.js parses.
 * One per isolate (src/isolate.ts).
 */
export type Allowlists = WeakMap<KeyRecord, IpAllowlist>;

/**
 * SPEC §3 between steps 4 and 5 (issue 14): a key with `allowed_ips` is refused 403 `ip_not_allowed`
 * from anywhere else, after it is verified (so the refusal is attributed to it) and before the
 * limiter (so a stolen key used elsewhere spends none of the owner's budget). The client address is
 * `CF-Connecting-IP` only (see clientIp for Pseudo IPv4): the headers a client can write itself
 * (`X-Forwarded-For`, `X-Real-IP`, `True-Client-IP`, `Forwarded`) would let a thief claim an allowed
 * address. A key without a list pays one property read.
 */
export function assertIpAllowed(record: KeyRecord, headers: Headers, allowlists: Allowlists): void {
  // null or [] is anywhere; anything else that is not a list (a column written behind the API's back) admits nobody.
  const entries = storedEntries(record.allowedIps);
  if (entries === null) return;
  let allowlist = allowlists.get(record);
  if (!allowlist) {
    allowlist = compileAllowlist(entries);
    allowlists.set(record, allowlist);
  }
  const ip = clientIp(headers);
  if (allowlist.allows(ip)) return;
  throw new KeygateError("ip_not_allowed", "this API key may not be used from this address", {
    // The address as Cloudflare wrote it (an address is at most 45 characters); without Cloudflare it could be anything.
    details: [{ field: "client_ip", message: ip ? `${ip.length <= 45 ? ip : `${ip.slice(0, 45)}…`} is not in the key's allowed_ips` : "the client address is unknown" }],
  });
}

/** Class E (240.0.0.0/4): never a real client's address, the space Cloudflare's Pseudo IPv4 hashes IPv6 clients into. */
const PSEUDO_IPV4 = /^(?:24\d|25[0-5])\./;

/**
 * The client address: `CF-Connecting-IP`, except under Cloudflare's Pseudo IPv4 "Overwrite Headers"
 * setting, which puts a Class E stand-in there and the IPv6 client's real address in
 * `CF-Connecting-IPv6`: an IPv6 allowlist must still match that client. A stand-in without the
 * real address stays the stand-in, matched like any other IPv4 address. CF-Connecting-IPv6 beside a
 * real IPv4 address is never read: it cannot stand in for the address Cloudflare saw.
 */
function clientIp(headers: Headers): string | null {
  const ip = headers.get("cf-connecting-ip");
  return ip !== null && PSEUDO_IPV4.test(ip) ? (headers.get("cf-connecting-ipv6") ?? ip) : ip;
}
