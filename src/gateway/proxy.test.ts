import { describe, expect, it } from "vitest";
import { forwardedHeaders as forwardedList } from "./proxy";

const forwardedHeaders = (incoming: Headers, at: URL) => new Headers(forwardedList(incoming, at));

const url = new URL("https://api.example.com/demo/x?a=1");

describe("forwardedHeaders", () => {
  it("removes both credential headers", () => {
    const out = forwardedHeaders(new Headers({ authorization: "Bearer kg_x", "x-api-key": "kg_x", accept: "application/json" }), url);
    expect(out.has("authorization")).toBe(false);
    expect(out.has("x-api-key")).toBe(false);
    expect(out.get("accept")).toBe("application/json");
  });

  it("removes the RFC 9110 hop-by-hop fields and every field named in Connection", () => {
    const out = forwardedHeaders(
      new Headers({
        connection: "keep-alive, X-Secret-Hop , x-other",
        "keep-alive": "timeout=5",
        "proxy-connection": "keep-alive",
        te: "trailers",
        trailer: "x-checksum",
        upgrade: "websocket",
        "proxy-authorization": "Basic abc",
        "proxy-authenticate": "Basic",
        "x-secret-hop": "1",
        "x-other": "2",
        "x-kept": "3",
      }),
      url,
    );
    expect([...out.keys()].sort()).toEqual(["x-forwarded-host", "x-forwarded-proto", "x-kept"]);
  });

  it("drops every client-sent X-Keygate-* header, whatever its case", () => {
    const out = forwardedHeaders(new Headers({ "X-Keygate-Org-Id": "org_evil", "x-keygate-signature": "t=1,v1=00", "X-KEYGATE-ANYTHING": "1" }), url);
    expect([...out.keys()].filter((name) => name.startsWith("x-keygate-"))).toEqual([]);
  });

  it("sets X-Forwarded-Proto and X-Forwarded-Host from the URL the client called, overriding client values", () => {
    const out = forwardedHeaders(new Headers({ "x-forwarded-proto": "gopher", "x-forwarded-host": "evil.test", host: "api.example.com" }), url);
    expect(out.get("x-forwarded-proto")).toBe("https");
    expect(out.get("x-forwarded-host")).toBe("api.example.com");
    expect(out.has("host")).toBe(false);
  });

  it("X-Forwarded-For is CF-Connecting-IP alone: client-sent X-Forwarded-For, X-Real-IP, True-Client-IP and Forwarded are dropped, never extended", () => {
    const spoofs = { "x-forwarded-for": "10.0.0.1", "x-real-ip": "10.0.0.2", "true-client-ip": "10.0.0.3", forwarded: "for=10.0.0.4;proto=https", "X-Real-IP": "10.0.0.5" };
    expect(forwardedHeaders(new Headers({ "cf-connecting-ip": "203.0.113.9" }), url).get("x-forwarded-for")).toBe("203.0.113.9");
    const out = forwardedHeaders(new Headers({ "cf-connecting-ip": "203.0.113.9", ...spoofs }), url);
    expect(out.get("x-forwarded-for")).toBe("203.0.113.9");
    for (const name of ["x-real-ip", "true-client-ip", "forwarded"]) expect(out.has(name), name).toBe(false);
    // Without CF-Connecting-IP (not behind Cloudflare's edge) the origin is told nothing rather than a client's claim.
    const bare = forwardedHeaders(new Headers(spoofs), url);
    for (const name of ["x-forwarded-for", "x-real-ip", "true-client-ip", "forwarded"]) expect(bare.has(name), name).toBe(false);
  });

  it("lists each name once, lower-cased, with the client's repeated values combined as Headers combines them", () => {
    const incoming = new Headers([["Accept", "a/b"], ["accept", "c/d"], ["X-Forwarded-Proto", "gopher"]]);
    const list = forwardedList(incoming, url);
    const names = list.map(([name]) => name);
    expect(new Set(names).size).toBe(names.length);
    expect(list).toContainEqual(["accept", "a/b, c/d"]);
    expect(list.filter(([name]) => name === "x-forwarded-proto")).toEqual([["x-forwarded-proto", "https"]]);
  });
});
