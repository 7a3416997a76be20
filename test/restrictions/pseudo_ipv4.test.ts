// Cloudflare's Pseudo IPv4 ("Overwrite Headers") puts a Class E stand-in in CF-Connecting-IP for an IPv6 client and
// the client's real address in CF-Connecting-IPv6: allowed_ips is matched against the real one.
import { describe, expect, it } from "vitest";
import { createKey, createOrg, keyFetch } from "../harness";
import { expectError } from "../management/support";

const from = (headers: Record<string, string>) => ({ headers });

describe("allowed_ips under Pseudo IPv4", () => {
  it("an IPv6 client behind a Class E stand-in is matched by its real address; the stand-in alone matches nothing", async () => {
    const { id } = await createOrg();
    const { key } = await createKey(id, { allowed_ips: ["2001:db8::/32"] });
    expect((await keyFetch(key, "/demo/x", from({ "cf-connecting-ip": "240.16.0.1", "cf-connecting-ipv6": "2001:db8::5" }))).status).toBe(200);
    await expectError(await keyFetch(key, "/demo/x", from({ "cf-connecting-ip": "240.16.0.1", "cf-connecting-ipv6": "2001:db9::5" })), 403, "ip_not_allowed");
    await expectError(await keyFetch(key, "/demo/x", from({ "cf-connecting-ip": "240.16.0.1" })), 403, "ip_not_allowed");
  });

  it("CF-Connecting-IPv6 is read only beside a Class E stand-in: a real IPv4 client cannot claim an allowed IPv6 address with it", async () => {
    const { id } = await createOrg();
    const { key } = await createKey(id, { allowed_ips: ["2001:db8::/32"] });
    await expectError(await keyFetch(key, "/demo/x", from({ "cf-connecting-ip": "203.0.113.7", "cf-connecting-ipv6": "2001:db8::5" })), 403, "ip_not_allowed");
    await expectError(await keyFetch(key, "/demo/x", from({ "cf-connecting-ipv6": "2001:db8::5" })), 403, "ip_not_allowed");
  });
});
