import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { grantsScope, insufficientScope, isWildcard, mayGrant, scopeProblem } from "./scopes";

// A small alphabet so that generated scopes share prefixes often (and wildcards match something).
const segment = fc.constantFrom("a", "b", "demo", "items", "read", "write");
const concrete = fc.array(segment, { minLength: 1, maxLength: 3 }).map((parts) => parts.join(":"));
const wildcard = fc.array(segment, { minLength: 1, maxLength: 2 }).map((parts) => `${parts.join(":")}:*`);
const held = fc.array(fc.oneof(concrete, wildcard, fc.constant("admin")), { maxLength: 5 });
const catalogue = fc.uniqueArray(concrete, { minLength: 1, maxLength: 12 });

/**
 * The exact-match semantics the wildcard must agree with: expand each wildcard into the catalogue
 * scopes it names ("demo:*" is every catalogue scope "demo:<something>"), then plain `includes`.
 */
function expand(scopes: readonly string[], names: readonly string[]): string[] {
  return scopes.flatMap((scope) => (isWildcard(scope) ? names.filter((name) => name.startsWith(scope.slice(0, -1))) : [scope]));
}

describe("wildcard scopes agree with exact matching over the expanded catalogue", () => {
  it("grantsScope(held, s) is includes(expand(held), s) for every catalogue scope s (admin aside)", () => {
    fc.assert(
      fc.property(held, catalogue, (scopes, names) => {
        for (const name of names) {
          const exact = scopes.includes("admin") || expand(scopes, names).includes(name);
          expect(grantsScope(scopes, name)).toBe(exact);
        }
      }),
      { numRuns: 1000 },
    );
  });

  it("without wildcards it is exactly includes (or admin)", () => {
    fc.assert(
      fc.property(fc.array(concrete, { maxLength: 5 }), concrete, (scopes, name) => {
        expect(grantsScope(scopes, name)).toBe(scopes.includes(name));
      }),
    );
  });

  it("mayGrant: whoever may hand out a scope holds everything it grants", () => {
    fc.assert(
      fc.property(held, fc.oneof(concrete, wildcard), catalogue, (scopes, wanted, names) => {
        if (!mayGrant(scopes, wanted)) return;
        for (const name of expand([wanted], names)) expect(grantsScope(scopes, name)).toBe(true);
      }),
      { numRuns: 1000 },
    );
  });
});

describe("wildcard edges", () => {
  it("covers deeper scopes, never the prefix itself, a look-alike or admin", () => {
    expect(grantsScope(["demo:*"], "demo:read")).toBe(true);
    expect(grantsScope(["demo:*"], "demo:items:write")).toBe(true);
    expect(grantsScope(["demo:*"], "demo")).toBe(false);
    expect(grantsScope(["demo:*"], "demox:read")).toBe(false);
    expect(grantsScope(["demo:*"], "admin")).toBe(false);
    expect(grantsScope(["demo:items:*"], "demo:read")).toBe(false);
  });

  it("handing out a wildcard needs admin or a wildcard at least as broad", () => {
    expect(mayGrant(["demo:read", "demo:write"], "demo:*")).toBe(false);
    expect(mayGrant(["demo:*"], "demo:*")).toBe(true);
    expect(mayGrant(["demo:*"], "demo:items:*")).toBe(true);
    expect(mayGrant(["demo:items:*"], "demo:*")).toBe(false);
    expect(mayGrant(["admin"], "demo:*")).toBe(true);
  });

  it("isWildcard: only a trailing ':*' after a segment", () => {
    expect(["demo:*", "a:b:*"].map(isWildcard)).toEqual([true, true]);
    expect(["*", ":*", "demo*", "demo:*:read", "demo:**", "demo:r*"].map(isWildcard)).toEqual([false, false, false, false, false, false]);
  });

  it("scopeProblem: catalogue scopes and wildcards over them are fine; '*', misplaced and empty wildcards are not", () => {
    const names = { "demo:read": "", "demo:write": "", admin: "" };
    expect(scopeProblem("demo:read", names)).toBeNull();
    expect(scopeProblem("demo:*", names)).toBeNull();
    expect(scopeProblem("*", names)).toContain("admin");
    expect(scopeProblem("nope:*", names)).toContain("matches no scope");
    expect(scopeProblem("demo:r*", names)).toContain("last segment");
    expect(scopeProblem("demo:delete", names)).toContain("not in the scope catalogue");
  });
});

describe("insufficientScope", () => {
  it("for a gateway route names the missing and the required scopes and challenges for the required ones (RFC 6750 §3.1)", () => {
    const err = insufficientScope({ route: ["demo:read", "demo:write"] }, ["demo:write"]);
    expect(err.code).toBe("insufficient_scope");
    expect(err.details).toEqual([
      { field: "missing_scopes", message: "demo:write" },
      { field: "required_scopes", message: "demo:read" },
      { field: "required_scopes", message: "demo:write" },
    ]);
    expect(err.headers).toEqual({ "WWW-Authenticate": 'Bearer realm="keygate", error="insufficient_scope", scope="demo:read demo:write"' });
  });

  it("for a management operation names the scope it requires, without a bearer challenge", () => {
    const err = insufficientScope("management", ["keys:write"]);
    expect(err.code).toBe("insufficient_scope");
    expect(err.details).toEqual([{ field: "scopes", message: "requires keys:write" }]);
    expect(err.headers).toBeUndefined();
  });
});
