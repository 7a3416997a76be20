import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { parseConfig, type RouteRule } from "../config";
import { KeygateError } from "../errors";
import { normalizePath } from "./route_pattern";
import { assertUnambiguousRoute, authorizeRoute, authorizeRule, routePolicy } from "./route_policy";

const rule = (path: string, scopes: string[] = [], method: RouteRule["method"] = "*", tiers?: string[]): RouteRule => ({ method, path, scopes, tiers, cost: 1 });

function refusal(fn: () => unknown): KeygateError {
  try {
    fn();
  } catch (err) {
    if (err instanceof KeygateError) return err;
    throw err;
  }
  throw new Error("expected a KeygateError");
}

const matches = (path: string, pattern: string, method = "GET", ruleMethod: RouteRule["method"] = "*") =>
  routePolicy([rule(pattern, [], ruleMethod)]).match(method, path) !== null;

describe("path patterns", () => {
  it("matches a literal path exactly, case-sensitively", () => {
    expect(matches("/v1/items", "/v1/items")).toBe(true);
    expect(matches("/v1/Items", "/v1/items")).toBe(false);
    expect(matches("/v1/items/1", "/v1/items")).toBe(false);
    expect(matches("/v1/item", "/v1/items")).toBe(false);
  });

  it("trailing * matches the prefix itself and everything below it, but not a longer sibling", () => {
    for (const path of ["/demo", "/demo/", "/demo/a", "/demo/a/b/c"]) expect(matches(path, "/demo/*")).toBe(true);
    for (const path of ["/demox", "/dem", "/", "/other/demo"]) expect(matches(path, "/demo/*")).toBe(false);
  });

  it("/* matches every path, / only the root", () => {
    for (const path of ["/", "/a", "/a/b/c"]) expect(matches(path, "/*")).toBe(true);
    expect(matches("/", "/")).toBe(true);
    expect(matches("/a", "/")).toBe(false);
  });

  it(":param matches exactly one non-empty segment", () => {
    expect(matches("/users/42", "/users/:id")).toBe(true);
    expect(matches("/users/42/posts", "/users/:id")).toBe(false);
    expect(matches("/users", "/users/:id")).toBe(false);
    expect(matches("/users/42/posts/7", "/users/:id/posts/:post")).toBe(true);
    expect(matches("/users/42/comments/7", "/users/:id/posts/:post")).toBe(false);
  });

  it("an encoded slash stays inside its segment", () => {
    expect(matches("/files/a%2Fb", "/files/:name")).toBe(true);
    expect(matches("/files/a%2fb", "/files/a%2Fb")).toBe(true);
  });

  it("regex characters in a literal segment are literal", () => {
    expect(matches("/v1.0/x", "/v1.0/x")).toBe(true);
    expect(matches("/v1a0/x", "/v1.0/x")).toBe(false);
    expect(matches("/a+b", "/a+b")).toBe(true);
    expect(matches("/aab", "/a+b")).toBe(false);
  });

  it("spellings an origin treats as the same path pick the same rule", () => {
    // A stricter rule first, a looser one after: none of these spellings may slip past the first.
    const policy = routePolicy([rule("/admin/*", ["admin"]), rule("/*", ["demo:read"])]);
    for (const path of ["/admin", "/admin/", "//admin/x", "/admin//x", "/%61dmin/x", "/%61%64min"]) {
      expect(policy.match("GET", path)?.index).toBe(0);
    }
  });
});

describe("methods", () => {
  it("* matches every method; a list matches its members only", () => {
    expect(matches("/x", "/x", "PATCH", "*")).toBe(true);
    expect(matches("/x", "/x", "POST", ["POST", "PUT"])).toBe(true);
    expect(matches("/x", "/x", "DELETE", ["POST", "PUT"])).toBe(false);
  });

  it("HEAD does not match a GET-only rule (nothing is implied)", () => {
    expect(matches("/x", "/x", "HEAD", "GET")).toBe(false);
    expect(matches("/x", "/x", "HEAD", ["GET", "HEAD"])).toBe(true);
  });
});

describe("rule order", () => {
  it("the first matching rule decides, even when a later one is more specific", () => {
    const policy = routePolicy([rule("/demo/*", ["demo:read"], "GET"), rule("/demo/admin", ["admin"], "GET"), rule("/demo/*", ["demo:write"])]);
    expect(policy.match("GET", "/demo/admin")?.index).toBe(0);
    expect(policy.match("POST", "/demo/admin")?.index).toBe(2);
  });

  it("no rule means no match (default deny)", () => {
    expect(routePolicy([]).match("GET", "/")).toBeNull();
    expect(routePolicy([rule("/demo/*", [], "GET")]).match("GET", "/other")).toBeNull();
  });
});

describe("pattern validation", () => {
  it("the config loader refuses a bad pattern before deploy, naming the field", () => {
    const err = refusal(() => parseConfig({ TIERS: { free: { limit: 1, window: "1s" } }, ROUTES: [{ method: "GET", path: "/files/*.json" }] }));
    expect(err.code).toBe("gateway_misconfigured");
    expect(err.details).toContainEqual({ field: "ROUTES.0.path", message: expect.stringContaining("whole segment") });
  });

  it("a bad pattern that reaches the policy answers gateway_misconfigured naming the rule", () => {
    const err = refusal(() => routePolicy([rule("/ok"), rule("/a/*/b")]));
    expect(err.code).toBe("gateway_misconfigured");
    expect(err.message).toContain("ROUTES.1.path");
  });
});

describe("authorizeRoute", () => {
  const policy = routePolicy([
    rule("/demo/*", ["demo:read"], "GET"),
    rule("/reports/*", ["demo:read", "reports:read"], "GET", ["pro", "enterprise"]),
    rule("/demo/*", ["demo:write"]),
  ]);

  it("admits a key holding every required scope", () => {
    expect(authorizeRoute(policy, "GET", "/demo/x", { scopes: ["demo:read"], tier: "free" }).index).toBe(0);
  });

  it("refuses a missing scope with 403 insufficient_scope naming the missing and required scopes", () => {
    const err = refusal(() => authorizeRoute(policy, "GET", "/reports/q1", { scopes: ["demo:read"], tier: "pro" }));
    expect(err.status).toBe(403);
    expect(err.code).toBe("insufficient_scope");
    expect(err.details).toEqual([
      { field: "missing_scopes", message: "reports:read" },
      { field: "required_scopes", message: "demo:read" },
      { field: "required_scopes", message: "reports:read" },
    ]);
    expect(err.headers?.["WWW-Authenticate"]).toBe('Bearer realm="keygate", error="insufficient_scope", scope="demo:read reports:read"');
  });

  it("the admin scope grants every scope", () => {
    expect(authorizeRoute(policy, "POST", "/demo/x", { scopes: ["admin"], tier: "free" }).index).toBe(2);
  });

  it("refuses a tier not listed on the rule with 403 tier_not_entitled", () => {
    const err = refusal(() => authorizeRoute(policy, "GET", "/reports/q1", { scopes: ["admin"], tier: "free" }));
    expect(err.status).toBe(403);
    expect(err.code).toBe("tier_not_entitled");
    expect(authorizeRoute(policy, "GET", "/reports/q1", { scopes: ["admin"], tier: "enterprise" }).index).toBe(1);
  });

  it("checks scopes before tiers", () => {
    expect(refusal(() => authorizeRoute(policy, "GET", "/reports/q1", { scopes: [], tier: "free" })).code).toBe("insufficient_scope");
  });

  it("refuses an unmatched request with 404 no_route, whatever the key may do", () => {
    const err = refusal(() => authorizeRoute(policy, "GET", "/elsewhere", { scopes: ["admin"], tier: "enterprise" }));
    expect(err.status).toBe(404);
    expect(err.code).toBe("no_route");
  });
});

// Property-based: the invariants above hold for arbitrary paths and scope sets, not just the examples.
const segment = fc.stringMatching(/^[A-Za-z0-9._~-]{1,12}$/).filter((s) => s !== "." && s !== "..");
const segments = fc.array(segment, { minLength: 0, maxLength: 6 });
const toPath = (parts: string[]) => "/" + parts.join("/");
const scope = fc.stringMatching(/^[a-z]{1,6}:[a-z]{1,6}$/);

describe("route policy properties", () => {
  it("a trailing * matches every path below its prefix and nothing outside it", () => {
    fc.assert(
      fc.property(fc.array(segment, { minLength: 1, maxLength: 3 }), segments, segment, (prefix, rest, other) => {
        const policy = routePolicy([rule(toPath(prefix) + "/*")]);
        expect(policy.match("GET", toPath([...prefix, ...rest]))).not.toBeNull();
        const sibling = toPath([...prefix.slice(0, -1), prefix.at(-1)! + other]);
        expect(policy.match("GET", sibling)).toBeNull();
      }),
    );
  });

  it(":param matches any single segment and never two", () => {
    fc.assert(
      fc.property(segment, segment, (a, b) => {
        const policy = routePolicy([rule("/x/:id")]);
        expect(policy.match("GET", `/x/${a}`)).not.toBeNull();
        expect(policy.match("GET", `/x/${a}/${b}`)).toBeNull();
      }),
    );
  });

  it("matching ignores doubled slashes, a trailing slash and encoded unreserved characters", () => {
    fc.assert(
      fc.property(fc.array(segment, { minLength: 1, maxLength: 5 }), fc.boolean(), fc.nat(), (parts, trailing, which) => {
        const plain = toPath(parts);
        const i = which % parts.length;
        const encoded = parts.map((p, j) => (j === i ? [...p].map((c) => "%" + c.charCodeAt(0).toString(16).padStart(2, "0")).join("") : p));
        const noisy = "/" + encoded.join("//") + (trailing ? "/" : "");
        expect(normalizePath(noisy)).toBe(plain);
        expect(routePolicy([rule(plain)]).match("GET", noisy)).not.toBeNull();
      }),
    );
  });

  it("a key holding exactly the required scopes passes; without any one of them it is refused naming that scope", () => {
    fc.assert(
      fc.property(fc.uniqueArray(scope, { minLength: 1, maxLength: 5 }), fc.nat(), (required, which) => {
        const policy = routePolicy([rule("/r", required)]);
        expect(authorizeRoute(policy, "GET", "/r", { scopes: [...required].reverse(), tier: "free" }).index).toBe(0);
        const dropped = required[which % required.length]!;
        const err = refusal(() => authorizeRoute(policy, "GET", "/r", { scopes: required.filter((s) => s !== dropped), tier: "free" }));
        expect(err.code).toBe("insufficient_scope");
        expect(err.details).toContainEqual({ field: "missing_scopes", message: dropped });
      }),
    );
  });

  it("admin passes every scope check", () => {
    fc.assert(
      fc.property(fc.uniqueArray(scope, { maxLength: 5 }), (required) => {
        expect(authorizeRoute(routePolicy([rule("/r", required)]), "GET", "/r", { scopes: ["admin"], tier: "free" }).index).toBe(0);
      }),
    );
  });

  it("the first matching rule always wins", () => {
    fc.assert(
      fc.property(segments, fc.integer({ min: 1, max: 4 }), (parts, extra) => {
        const path = toPath(parts);
        const routes = [rule("/*", ["a:b"]), ...Array.from({ length: extra }, () => rule(path, ["c:d"]))];
        expect(routePolicy(routes).match("GET", path)?.index).toBe(0);
      }),
    );
  });
});

describe("assertUnambiguousRoute: letter case", () => {
  it("skips the case-folded match only when neither the rules nor the path hold an upper-case letter or an escape", () => {
    const lower = routePolicy([rule("/demo/internal/*", ["admin"]), rule("/demo/*", ["demo:read"])]);
    expect(lower.caseCanMatter("/demo/internal/x")).toBe(false);
    expect(lower.caseCanMatter("/demo/INTERNAL/x")).toBe(true);
    expect(lower.caseCanMatter("/demo/%c3%a9")).toBe(true);
    expect(refusal(() => assertUnambiguousRoute(lower, "GET", "/demo/INTERNAL/x")).code).toBe("invalid_path");
    expect(() => assertUnambiguousRoute(lower, "GET", "/demo/internal/x")).not.toThrow();
  });

  it("a rule written with capitals still catches an all-lower-case path spelled around it", () => {
    const upper = routePolicy([rule("/demo/Internal/*", ["admin"]), rule("/demo/*", ["demo:read"])]);
    expect(upper.caseCanMatter("/demo/internal/x")).toBe(true);
    expect(refusal(() => assertUnambiguousRoute(upper, "GET", "/demo/internal/x")).code).toBe("invalid_path");
    expect(() => assertUnambiguousRoute(upper, "GET", "/demo/Internal/x")).not.toThrow();
  });
});


describe("one match per request: assertUnambiguousRoute's rule, judged by authorizeRule", () => {
  const policy = routePolicy([rule("/demo/internal/*", ["admin"]), rule("/demo/*", ["demo:read"], "GET"), rule("/items/:id", ["items:read"])]);

  it("returns the rule the path matches as written (also with a harmless path parameter), or null for none", () => {
    expect(assertUnambiguousRoute(policy, "GET", "/demo/x")?.index).toBe(1);
    expect(assertUnambiguousRoute(policy, "GET", "/items/1;v=2")?.index).toBe(2);
    expect(assertUnambiguousRoute(policy, "POST", "/demo/x")).toBeNull();
    expect(assertUnambiguousRoute(policy, "GET", "/elsewhere")).toBeNull();
  });

  it("authorizeRule answers as authorizeRoute does: the rule, 404 for none, 403 for a missing scope", () => {
    const caller = { scopes: ["demo:read"], tier: "free" };
    expect(authorizeRule(assertUnambiguousRoute(policy, "GET", "/demo/x"), caller)).toBe(authorizeRoute(policy, "GET", "/demo/x", caller));
    expect(refusal(() => authorizeRule(assertUnambiguousRoute(policy, "GET", "/elsewhere"), caller)).code).toBe("no_route");
    expect(refusal(() => authorizeRule(assertUnambiguousRoute(policy, "GET", "/demo/internal/x"), caller)).code).toBe("insufficient_scope");
  });
});
