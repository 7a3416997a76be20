import { describe, expect, it } from "vitest";
import { concretePath, firstCall } from "../../scripts/start-banner.ts";

const window = (limit: number, mode: string) => ({ limits: [{ name: "default", limit, window: 60_000, mode }], org_window: 60_000, mode });
const tiers = { free: window(60, "strict"), gold: window(600, "fast") };
const scopes = { admin: "", "keys:read": "", "keys:write": "", "audit:read": "", "reports:read": "", "reports:write": "" };

describe("npm start's banner walk-through", () => {
  it("uses the first rule a GET can call, its first scope and the first tier", () => {
    const routes = [
      { method: "POST", path: "/reports", scopes: ["reports:write"] },
      { method: ["GET", "HEAD"], path: "/reports/:id/pages/*", scopes: ["reports:read"] },
    ];
    expect(firstCall({ tiers, scopes, routes })).toEqual({ tier: "free", scopes: ["reports:read"], method: "GET", path: "/reports/1/pages/hello", rule: 2 });
  });

  it("picks a tier the rule admits", () => {
    const routes = [{ method: "*", path: "/gold/*", scopes: ["reports:read"], tiers: ["gold"] }];
    expect(firstCall({ tiers, scopes, routes })?.tier).toBe("gold");
  });

  it("falls back to the first rule with its own method when no rule takes GET", () => {
    const routes = [{ method: "POST", path: "/ingest", scopes: ["reports:write"] }];
    expect(firstCall({ tiers, scopes, routes })).toMatchObject({ method: "POST", path: "/ingest", rule: 1 });
  });

  it("gives a key an operator scope for a rule with scopes = [] (a key needs one)", () => {
    const routes = [{ method: "GET", path: "/status", scopes: [] }];
    expect(firstCall({ tiers, scopes, routes })?.scopes).toEqual(["reports:read"]);
  });

  it("has no call to show when ROUTES is empty", () => {
    expect(firstCall({ tiers, scopes, routes: [] })).toBeNull();
  });

  it("turns a pattern into a path it matches", () => {
    expect(concretePath("/demo/*")).toBe("/demo/hello");
    expect(concretePath("/*")).toBe("/hello");
    expect(concretePath("/")).toBe("/");
  });
});
