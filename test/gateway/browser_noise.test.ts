// A browser opening a gateway URL asks for /favicon.ico on its own: that is not a failed authentication.
import { env, exports } from "cloudflare:workers";
import { eq } from "drizzle-orm";
import { drizzle } from "drizzle-orm/d1";
import { describe, expect, it } from "vitest";
import { isBrowserNoise } from "../../src/gateway/browser_noise";
import { authFailures } from "../../src/store/schema";
import { eventually } from "./seed";

const gateway = (path: string, init?: RequestInit) => exports.default.fetch(`http://gw.test${path}`, init);

describe("browser noise", () => {
  it("answers /favicon.ico without a credential 401 but records no auth failure; a real path or a bad key still counts", async () => {
    const source = `198.19.${Math.floor(Math.random() * 250)}.${Math.floor(Math.random() * 250)}`;
    const headers = { "cf-connecting-ip": source };
    for (const path of ["/favicon.ico", "/apple-touch-icon-precomposed.png", "/.well-known/appspecific/com.chrome.devtools.json"]) {
      const res = await gateway(path, { headers });
      expect(res.status).toBe(401);
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe("missing_credentials");
    }
    await gateway("/favicon.ico", { headers: { ...headers, "x-api-key": "kg_garbage" } });
    await gateway("/demo/x", { headers });

    const rows = await eventually(async () => {
      const found = await drizzle(env.DB).select().from(authFailures).where(eq(authFailures.source, source)).orderBy(authFailures.reason);
      return found.reduce((n, r) => n + r.count, 0) >= 2 ? found : undefined;
    });
    expect(rows.map((r) => [r.reason, r.count])).toEqual([
      ["malformed_key", 1],
      ["missing_credentials", 1],
    ]);
  });

  it("is only what browsers ask for by themselves", () => {
    expect(isBrowserNoise("/favicon.ico")).toBe(true);
    expect(isBrowserNoise("/apple-touch-icon-180x180.png")).toBe(true);
    expect(isBrowserNoise("/demo/favicon.ico")).toBe(false);
    expect(isBrowserNoise("/favicon.ico/x")).toBe(false);
    expect(isBrowserNoise("/.well-known/appspecific/a/b")).toBe(false);
  });
});
