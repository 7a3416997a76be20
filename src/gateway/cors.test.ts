import { describe, expect, it } from "vitest";
import type { RouteRule } from "../config";
import { corsPolicy, withCors } from "./cors";
import { corsConfigSchema } from "./cors_config";
import { routePolicy } from "./route_policy";

const APP = "https://app.example.com";
const routes = routePolicy([{ method: "*", path: "/demo/*", scopes: [], cost: 1 } satisfies RouteRule]);
const policy = (cors: unknown) => corsPolicy(corsConfigSchema.parse(cors));
const call = (cors: unknown, next: () => Promise<Response>, headers: Record<string, string> = { origin: APP }) => {
  const request = new Request("https://gw.test/demo/x", { headers });
  return withCors(request, policy(cors), routes, new URL(request.url), next);
};

describe("withCors", () => {
  it("a failure the gateway did not answer still reaches the page as the 500 envelope, with its CORS headers", async () => {
    const res = await call({ origins: [APP] }, () => Promise.reject(new Error("boom")));
    expect(res.status).toBe(500);
    expect(res.headers.get("access-control-allow-origin")).toBe(APP);
    expect(res.headers.get("vary")).toBe("Origin");
    expect(await res.json()).toEqual({ error: { code: "internal_error", message: "internal error" } });
  });

  it("changes a response whose headers are mutable in place, and copies one whose headers are not", async () => {
    const own = new Response("x", { headers: { "access-control-max-age": "5" } });
    expect(await call({ origins: [APP] }, () => Promise.resolve(own))).toBe(own);
    expect(own.headers.get("access-control-max-age")).toBeNull();
    // Response.redirect's headers are immutable, like a fetch() response's.
    const immutable = Response.redirect("https://gw.test/elsewhere", 302);
    expect(() => immutable.headers.set("x", "y")).toThrow(TypeError);
    const res = await call({ origins: [APP] }, () => Promise.resolve(immutable), {});
    expect(res).not.toBe(immutable);
    expect(res.status).toBe(302);
    expect(res.headers.get("location")).toBe("https://gw.test/elsewhere");
    expect(res.headers.get("vary")).toBe("Origin");
  });

  it("the origin server's credentials header never combines with the gateway's Allow-Origin: a policy without credentials grants none", async () => {
    const theirs = () => Promise.resolve(new Response("x", { headers: { "access-control-allow-credentials": "true", "access-control-expose-headers": "*" } }));
    const res = await call({ origins: [APP] }, theirs);
    expect(res.headers.get("access-control-allow-origin")).toBe(APP);
    expect(res.headers.get("access-control-allow-credentials")).toBeNull();
    expect(res.headers.get("access-control-expose-headers")).not.toContain("*");
  });

  it("an answer that needs nothing (Origin already in Vary, no CORS headers, no allowed Origin) is returned as it is", async () => {
    const immutable = Response.redirect("https://gw.test/elsewhere", 302);
    const varied = new Response("x", { headers: { vary: "Accept-Encoding, origin" } });
    expect(await call({ origins: [APP] }, () => Promise.resolve(varied), {})).toBe(varied);
    expect(varied.headers.get("vary")).toBe("Accept-Encoding, origin");
    expect((await call({ origins: [APP] }, () => Promise.resolve(immutable), {})).headers.get("vary")).toBe("Origin");
  });
});
