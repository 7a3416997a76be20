import { describe, expect, it } from "vitest";
import { concretePath, firstCall } from "../../scripts/start-banner.ts";
import { parseConfig } from "../../src/config.ts";

/** The config the banner is built from, parsed by the worker's own parser: tiers free and gold, scopes reports:read and reports:write. */
function gateway(routes: unknown[]) {
  return parseConfig({
    TIERS: { free: { limit: 60, window: "60s", mode: "strict" }, gold: { limit: 600, window: "60s", mode: "fast" } },
    SCOPES: { "reports:read": "", "reports:write": "" },
    ROUTES: routes,
  });
}

describe("npm start's banner walk-through", () => {
  it("uses the first rule a GET can call, its first scope and the first tier", () => {
    const routes = [
      { method: "POST", path: "/reports", scopes: ["reports:write"] },
      { method: ["GET", "HEAD"], path: "/reports/:id/pages/*", scopes: ["reports:read"] },
    ];
    expect(firstCall(gateway(routes))).toEqual({ tier: "free", scopes: ["reports:read"], method: "GET", path: "/reports/1/pages/hello", rule: 2 });
  });

  it("picks a tier the rule admits", () => {
    const routes = [{ method: "*", path: "/gold/*", scopes: ["reports:read"], tiers: ["gold"] }];
    expect(firstCall(gateway(routes))?.tier).toBe("gold");
  });

  it("falls back to the first rule with its own method when no rule takes GET", () => {
    const routes = [{ method: "POST", path: "/ingest", scopes: ["reports:write"] }];
    expect(firstCall(gateway(routes))).toMatchObject({ method: "POST", path: "/ingest", rule: 1 });
  });

  it("gives a key an operator scope for a rule with scopes = [] (a key needs one)", () => {
    const routes = [{ method: "GET", path: "/status", scopes: [] }];
    expect(firstCall(gateway(routes))?.scopes).toEqual(["reports:read"]);
  });

  it("has no call to show when ROUTES is empty", () => {
    expect(firstCall(gateway([]))).toBeNull();
  });

  it("turns a pattern into a path it matches", () => {
    expect(concretePath("/demo/*")).toBe("/demo/hello");
    expect(concretePath("/*")).toBe("/hello");
    expect(concretePath("/")).toBe("/");
  });
});
