// SPEC §9: one normalised path, seen alike by the route policy and the origin (issue 18.1).
import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env, exports } from "cloudflare:workers";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { handleRequest } from "../../src/app";
import { parseConfig } from "../../src/config";
import { canonicalPath } from "../../src/gateway/path";
import { routePolicy } from "../../src/gateway/route_policy";
import { seedKey } from "./seed";

interface Echo {
  path: string;
}

async function errorCode(res: Response): Promise<string> {
  return ((await res.json()) as { error: { code: string } }).error.code;
}

const gateway = (path: string, key: string, method = "GET") => exports.default.fetch(`http://gw.test${path}`, { method, headers: { "x-api-key": key } });

describe("the path the policy matched is the path the origin receives", () => {
  it("GET //demo/internal/secret is refused 400 invalid_path: the origin would read host 'demo', path /internal/secret", async () => {
    const { key } = await seedKey({ scopes: ["demo:read"] });
    const res = await gateway("//demo/internal/secret", key);
    expect(res.status).toBe(400);
    expect(res.headers.get("x-demo-origin")).toBeNull();
    expect(await errorCode(res)).toBe("invalid_path");
  });

  it("a doubled slash inside the path, or an encoded letter, is normalised before matching and forwarded normalised", async () => {
    const { key } = await seedKey({ scopes: ["demo:read"] });
    for (const [sent, received] of [
      ["/demo//a///b", "/demo/a/b"],
      ["/%64emo/%61", "/demo/a"],
      ["/demo/x/", "/demo/x/"],
      ["/demo/caf%c3%a9", "/demo/caf%C3%A9"],
      ["/demo/a/../b", "/demo/b"],
    ]) {
      const res = await gateway(sent!, key);
      expect(res.status, sent).toBe(200);
      expect(((await res.json()) as Echo).path, sent).toBe(received);
    }
    // And the write rule still applies to a spelled-around write.
    expect((await gateway("/demo//a", key, "POST")).status).toBe(403);
  });

  it.each(["/demo/a%2Fb", "/demo/a%2fb", "/demo/a%5Cb", "/demo/%00", "/demo/a%0Ab", "/demo/%zz", "/demo/100%", "/demo/%2e%2E%2f..", "/demo/.%2e%2F"])("%s is refused 400 invalid_path before the origin", async (path) => {
    const { key } = await seedKey({ scopes: ["demo:read"] });
    const res = await gateway(path, key);
    expect(res.status).toBe(400);
    expect(res.headers.get("x-demo-origin")).toBeNull();
    expect(await errorCode(res)).toBe("invalid_path");
  });

  it("a path is checked before the key: a bad path costs no lookup and says nothing about the key", async () => {
    const res = await exports.default.fetch("http://gw.test//demo/x");
    expect(res.status).toBe(400);
    expect(await errorCode(res)).toBe("invalid_path");
  });
});

describe("canonicalPath", () => {
  it("is idempotent and never yields a path a URL parser reads differently", () => {
    const piece = fc.constantFrom("a", "demo", "%61", "%2e", ".", "..", "%7E", "%C3%A9", "é", "%3F", "%23", "%25", ";x", "%20", "");
    fc.assert(
      fc.property(fc.array(piece, { maxLength: 8 }), (pieces) => {
        const pathname = new URL("http://gw.test/" + pieces.join("/")).pathname;
        let path: string;
        try {
          path = canonicalPath(pathname);
        } catch {
          return;
        }
        expect(canonicalPath(path)).toBe(path);
        expect(new URL(path, "http://origin.test").pathname).toBe(path);
        expect(path.startsWith("//")).toBe(false);
      }),
    );
  });
});

// A stricter rule before a looser one: the bypass only matters when a spelling can skip rule 0.
const ROUTES = [
  { method: "GET", path: "/demo/internal/*", scopes: ["demo:write"] },
  { method: "GET", path: "/demo/*", scopes: ["demo:read"] },
  { method: "GET", path: "/public/:id", scopes: ["demo:read"] },
];
const routesEnv = { ...env, ROUTES: JSON.stringify(ROUTES) };
const policy = routePolicy(parseConfig(routesEnv).routes);

/** Pieces an attacker glues together: dot segments, encodings, slashes, backslashes, unicode, NUL. */
const PLAIN = ["demo", "internal", "secret", "public", "x"];
const HOSTILE = ["", ".", "..", "%2e", "%2E%2e", ".%2e", "%2F", "%2f", "%5C", "\\", "/", "//", "%00", "%64emo", "%69nternal", "%2564emo", "é", "%C3%A9", "%", "%zz", ";x", "%3B", "%3F", "%23", "%20", "~", "%7E", "@", ":", "demo:x", "%252e", "\t", "?q=1", "..;", ".;", "..;x", "%2e%2e;", "internal;", "internal;x=1", "demo;", "INTERNAL", "Internal", "%49nternal", "DEMO"];

/** The path as Tomcat, Jetty and Spring route it: each segment without its `;…` parameters, then dot segments resolved. */
function asParameterStrippingOriginReads(path: string): string {
  return new URL(path.replace(/;[^/]*/g, ""), "http://origin.test").pathname.replace(/\/{2,}/g, "/");
}

describe("path parameters (;) cannot pick a weaker rule than the one a Tomcat/Spring origin routes to", () => {
  async function withRoutes(path: string, key: string): Promise<Response> {
    const ctx = createExecutionContext();
    const res = await handleRequest(new Request(`http://gw.test${path}`, { headers: { "x-api-key": key } }), routesEnv, ctx);
    await waitOnExecutionContext(ctx);
    return res;
  }

  it.each(["/demo/x/..;/internal/secret", "/demo/x/..;x=1/internal/secret", "/demo/x/%2e%2e;/internal/secret", "/demo/.;/internal/secret", "/demo/internal;x/secret", "/demo/internal;/secret", "/demo/%69nternal;jsessionid=1/secret"])(
    "%s is refused 400 invalid_path before the origin",
    async (path) => {
      const { key } = await seedKey({ scopes: ["demo:read"] });
      const res = await withRoutes(path, key);
      expect(res.status, path).toBe(400);
      expect(res.headers.get("x-demo-origin")).toBeNull();
      expect(await errorCode(res)).toBe("invalid_path");
    },
  );

  it("parameters that leave the rule unchanged are forwarded as written", async () => {
    const { key } = await seedKey({ scopes: ["demo:read"] });
    for (const path of ["/demo/items;v=2", "/demo/a;b/c;d=1", "/public/7;lang=en"]) {
      const res = await withRoutes(path, key);
      expect(res.status, path).toBe(200);
      expect(((await res.json()) as Echo).path).toBe(path);
    }
  });
});

describe("letter case cannot pick a weaker rule than the one a case-insensitive origin (Express, IIS) routes to", () => {
  async function withRoutes(path: string, key: string): Promise<Response> {
    const ctx = createExecutionContext();
    const res = await handleRequest(new Request(`http://gw.test${path}`, { headers: { "x-api-key": key } }), routesEnv, ctx);
    await waitOnExecutionContext(ctx);
    return res;
  }

  it.each(["/demo/INTERNAL/secret", "/demo/Internal/secret", "/demo/%49nternal/secret", "/demo/INTERNAL;x/secret"])("%s is refused 400 invalid_path before the origin", async (path) => {
    const { key } = await seedKey({ scopes: ["demo:read"] });
    const res = await withRoutes(path, key);
    expect(res.status, path).toBe(400);
    expect(res.headers.get("x-demo-origin")).toBeNull();
    expect(await errorCode(res)).toBe("invalid_path");
  });

  it("case that changes no rule is forwarded as written; a path no rule matches as written stays 404", async () => {
    const { key } = await seedKey({ scopes: ["demo:read"] });
    for (const path of ["/demo/Items/AbC", "/public/XyZ"]) {
      const res = await withRoutes(path, key);
      expect(res.status, path).toBe(200);
      expect(((await res.json()) as Echo).path).toBe(path);
    }
    const res = await withRoutes("/DEMO/x", key);
    expect(res.status).toBe(404);
    expect(await errorCode(res)).toBe("no_route");
  });
});

describe("property: whatever the policy admitted is what the origin received, as the origin's URL parser reads it", () => {
  it("for generated paths with a demo:read key, nothing under /demo/internal or outside the admitting rule reaches the origin", async () => {
    const { key } = await seedKey({ tier: "enterprise", scopes: ["demo:read"] });
    const seen = { proxied: 0, invalid: 0, refused: 0 };
    await fc.assert(
      fc.asyncProperty(fc.oneof({ arbitrary: fc.constantFrom("demo", "public", "demo/internal"), weight: 3 }, { arbitrary: fc.constantFrom(...HOSTILE), weight: 1 }), fc.array(fc.oneof({ arbitrary: fc.constantFrom(...PLAIN), weight: 3 }, { arbitrary: fc.constantFrom(...HOSTILE), weight: 2 }), { minLength: 1, maxLength: 7 }), fc.array(fc.constantFrom("/", "", "//"), { minLength: 8, maxLength: 8 }), async (first, rest, glue) => {
        const pieces = [first, ...rest];
        const raw = "/" + pieces.map((p, i) => p + (i < pieces.length - 1 ? glue[i] : "")).join("");
        const ctx = createExecutionContext();
        const res = await handleRequest(new Request(`http://gw.test${raw}`, { headers: { "x-api-key": key } }), routesEnv, ctx);
        await waitOnExecutionContext(ctx);
        const reachedOrigin = res.headers.get("x-demo-origin") === "keygate";
        if (!reachedOrigin) {
          expect([400, 403, 404], raw).toContain(res.status);
          if (res.status === 400) {
            expect(await errorCode(res)).toBe("invalid_path");
            seen.invalid++;
          } else {
            await res.body?.cancel();
            seen.refused++;
          }
          return;
        }
        expect(res.status, raw).toBe(200);
        // The demo origin reports `new URL(req.url, base).pathname`: the origin's own reading.
        const received = ((await res.json()) as Echo).path;
        expect(received, raw).toBe(canonicalPath(new URL(`http://gw.test${raw}`).pathname));
        const rule = policy.match("GET", received);
        expect(rule?.index === 1 || rule?.index === 2, `${raw} reached the origin as ${received}`).toBe(true);
        // An origin that routes letters in either case (Express's default, IIS) must land under the same rule too.
        const folded = policy.matchIgnoringCase("GET", received);
        expect(folded?.index === 1 || folded?.index === 2, `${raw} reached a case-insensitive origin as ${received}`).toBe(true);
        // An origin that drops path parameters must land under the same rule, not under /demo/internal.
        const stripped = policy.match("GET", asParameterStrippingOriginReads(received));
        expect(stripped?.index === 1 || stripped?.index === 2, `${raw} reached a parameter-stripping origin as ${asParameterStrippingOriginReads(received)}`).toBe(true);
        seen.proxied++;
      }),
      { numRuns: 300 },
    );
    console.log(`path property: ${seen.proxied} proxied, ${seen.invalid} invalid_path, ${seen.refused} refused by the policy`);
    // The property must have exercised every outcome, or it proves little.
    expect(seen.proxied).toBeGreaterThan(10);
    expect(seen.invalid).toBeGreaterThan(10);
    expect(seen.refused).toBeGreaterThan(10);
  });
});
