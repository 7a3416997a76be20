// Hot-path fuzzing (issue 18): generated methods, paths, header sets and credentials against a
// route policy. Nothing may reach the origin outside the rule that admitted it, no 5xx other than
// 502/503/504 (by design), every refusal the one error envelope.
import { env } from "cloudflare:workers";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { parseConfig } from "../../src/config";
import { authorizeRoute, routePolicy } from "../../src/gateway/route_policy";
import { seedKey, unknownKey } from "./seed";
import { callWith } from "./storage";

const ROUTES = [
  { method: "GET", path: "/demo/internal/*", scopes: ["demo:write"] },
  { method: ["GET", "HEAD"], path: "/demo/*", scopes: ["demo:read"] },
  { method: "POST", path: "/demo/items", scopes: ["demo:write"] },
  { method: "*", path: "/public/:id", scopes: ["demo:read"] },
];
const routesEnv = { ...env, ROUTES: JSON.stringify(ROUTES) };
const policy = routePolicy(parseConfig(routesEnv).routes);

// workerd's Request accepts only the standard methods (others throw before the worker runs).
const METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "get", "post", "patch"];
const PLAIN = ["demo", "internal", "items", "public", "x", "1"];
const HOSTILE = ["", ".", "..", "%2e", "%2E%2e", "%2F", "%5C", "\\", "//", "%00", "%64emo", "%69nternal", "é", "%C3%A9", "%", "%zz", ";x", "%3F", "%23", "%20", "~", "@", ":", "%252e", "?a=1", "#frag"];
const EXTRA_HEADERS: [string, string][] = [
  ["x-keygate-org-id", "org_forged"],
  ["x-keygate-scopes", "admin"],
  ["x-keygate-signature", "t=1,v2=00"],
  ["x-forwarded-for", "10.0.0.1"],
  ["x-real-ip", "10.0.0.2"],
  ["forwarded", "for=10.0.0.3"],
  ["connection", "x-secret"],
  ["x-secret", "hop"],
  ["content-type", "application/json"],
  ["x-http-method-override", "DELETE"],
  ["host", "evil.test"],
  ["cf-connecting-ip", "203.0.113.5"],
];

interface Echo {
  method: string;
  path: string;
  headers: Record<string, string>;
}

describe("hot-path fuzzing", () => {
  it("no request reaches the origin outside the rule that admitted it; no 5xx but 502/503/504; every refusal is the envelope", async () => {
    const reader = await seedKey({ tier: "enterprise", scopes: ["demo:read"] });
    const writer = await seedKey({ tier: "enterprise", scopes: ["demo:read", "demo:write"], orgId: reader.orgId });
    const admin = await seedKey({ tier: "enterprise", scopes: ["admin"] });
    const revoked = await seedKey({ tier: "enterprise", scopes: ["admin"], revokedAt: Date.now() - 1000 });
    const keys = [reader, writer, admin];
    const secrets = [reader.key, writer.key, admin.key, revoked.key];
    const unknown = unknownKey();
    const valid = fc.constantFrom<[string, string][]>([["x-api-key", reader.key]], [["authorization", `Bearer ${writer.key}`]], [["authorization", `ApiKey ${admin.key}`]], [["authorization", `Bearer ${reader.key}`], ["x-api-key", reader.key]]);
    const invalid = fc.constantFrom<[string, string][]>(
      [],
      [["x-api-key", revoked.key]],
      [["x-api-key", unknown]],
      [["x-api-key", reader.key.slice(0, -1)]],
      [["authorization", `Bearer ${reader.key}`], ["x-api-key", admin.key]],
      [["authorization", `Basic ${btoa("a:b")}`]],
      [["authorization", `Bearer  ${admin.key}  `]],
      [["x-api-key", `${reader.key},${admin.key}`]],
    );
    const credential = fc.oneof({ arbitrary: valid, weight: 3 }, { arbitrary: invalid, weight: 1 });
    const path = fc
      .tuple(
        fc.oneof({ arbitrary: fc.constantFrom("demo", "public", "demo/internal", "demo/items"), weight: 3 }, { arbitrary: fc.constantFrom(...HOSTILE), weight: 1 }),
        fc.array(fc.oneof({ arbitrary: fc.constantFrom(...PLAIN), weight: 3 }, { arbitrary: fc.constantFrom(...HOSTILE), weight: 2 }), { maxLength: 5 }),
        fc.array(fc.constantFrom("/", "/", "", "//"), { minLength: 6, maxLength: 6 }),
      )
      .map(([first, rest, glue]) => "/" + [first, ...rest].map((p, i) => p + (i < rest.length ? glue[i] : "")).join(""));
    const outcomes = new Map<string, number>();
    let requests = 0;

    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...METHODS),
        path,
        credential,
        fc.subarray(EXTRA_HEADERS, { maxLength: 5 }),
        fc.option(fc.string({ maxLength: 64 }), { nil: undefined }),
        async (method, rawPath, creds, extra, body) => {
          const headers = new Headers([...extra, ...creds]);
          const upper = method.toUpperCase();
          const init: RequestInit = { method, headers, body: upper === "GET" || upper === "HEAD" ? undefined : body };
          const res = await callWith(routesEnv, rawPath, init);
          requests++;
          const fromOrigin = res.headers.get("x-demo-origin") === "keygate";
          const label = `${method} ${rawPath} [${creds.map(([n]) => n).join(",")}]`;
          expect(res.status < 500 || [502, 503, 504].includes(res.status), `${label}: ${res.status}`).toBe(true);

          if (!fromOrigin) {
            outcomes.set(String(res.status), (outcomes.get(String(res.status)) ?? 0) + 1);
            if (upper === "HEAD") return void (await res.body?.cancel());
            expect(res.headers.get("content-type"), label).toContain("application/json");
            const envelope = (await res.json()) as { error?: { code?: unknown; message?: unknown } };
            expect(typeof envelope.error?.code, label).toBe("string");
            expect(typeof envelope.error?.message, label).toBe("string");
            return;
          }
          outcomes.set("proxied", (outcomes.get("proxied") ?? 0) + 1);
          expect(res.status, label).toBe(200);
          if (upper === "HEAD") return void (await res.body?.cancel());
          const echo = (await res.json()) as Echo;
          // The key that was let through (a well-formed pair of equal keys counts as that key).
          const presented = creds.map(([, v]) => v.replace(/^(Bearer|ApiKey)\s+/i, "").trim());
          const caller = keys.find((k) => presented[0] === k.key);
          expect(caller, `${label} reached the origin without a valid key`).toBeDefined();
          // Whatever the origin read as method and path must be admitted for this caller by the same policy.
          expect(() => authorizeRoute(policy, echo.method, echo.path, { scopes: caller === reader ? ["demo:read"] : caller === writer ? ["demo:read", "demo:write"] : ["admin"], tier: "enterprise" }), `${label} -> ${echo.method} ${echo.path}`).not.toThrow();
          expect(echo.headers["x-keygate-key-id"], label).toBe(caller!.id);
          expect(echo.headers["x-keygate-org-id"], label).toBe(caller!.orgId);
          for (const name of ["authorization", "x-api-key", "x-keygate-signature", "x-real-ip", "forwarded"]) expect(echo.headers[name], `${label}: ${name}`).toBeUndefined();
          // A field the client named in Connection is hop-by-hop.
          if (headers.has("connection")) expect(echo.headers["x-secret"], label).toBeUndefined();
          const seen = JSON.stringify(echo);
          for (const secret of secrets) expect(seen.includes(secret), `${label}: a key reached the origin`).toBe(false);
        },
      ),
      { numRuns: 400 },
    );
    console.log(`hot-path fuzz: ${requests} requests; outcomes ${JSON.stringify(Object.fromEntries(outcomes))}`);
    expect(outcomes.get("proxied") ?? 0).toBeGreaterThan(20);
  });
});
