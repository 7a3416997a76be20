// Fault injection (issue 18): each dependency of the hot path failing, and what the client sees.
import { env } from "cloudflare:workers";
import { beforeEach, describe, expect, it } from "vitest";
import { clearMemoryCache } from "../support/isolate";
import type { Env } from "../../src/env";
import { resetLogThrottle } from "../../src/log";
import { seedKey, unknownKey } from "./seed";
import { callWith, countingEnv, failing } from "./storage";

const get = (key: string) => ({ headers: { "x-api-key": key } });
const code = async (res: Response) => ((await res.json()) as { error: { code: string } }).error.code;

beforeEach(() => {
  clearMemoryCache();
  resetLogThrottle();
});

describe("D1 failing", () => {
  it("keys in isolate memory keep working; a key no tier holds is 503 key_store_unavailable with Retry-After, never a 500", async () => {
    const { key: warm } = await seedKey({ tier: "enterprise", scopes: ["demo:read"] });
    const { key: cold } = await seedKey({ tier: "enterprise", scopes: ["demo:read"] });
    expect((await callWith(env, "/demo/x", get(warm))).status).toBe(200);
    const down: Env = { ...env, DB: failing(env.DB, "D1") };
    expect((await callWith(down, "/demo/x", get(warm))).status).toBe(200);
    const res = await callWith(down, "/demo/x", get(cold));
    expect(res.status).toBe(503);
    expect(res.headers.get("retry-after")).toBe("1");
    expect(await code(res)).toBe("key_store_unavailable");
    // An unknown key is no different from an uncached one while D1 is down: nothing can tell them apart.
    const unknown = await callWith(down, "/demo/x", get(unknownKey()));
    expect(unknown.status).toBe(503);
    expect(await code(unknown)).toBe("key_store_unavailable");
  });

  it("keys in KV keep working with isolate memory gone", async () => {
    const { key } = await seedKey({ tier: "enterprise", scopes: ["demo:read"] });
    expect((await callWith(env, "/demo/x", get(key))).status).toBe(200);
    clearMemoryCache();
    expect((await callWith({ ...env, DB: failing(env.DB, "D1") }, "/demo/x", get(key))).status).toBe(200);
  });

  it("the outage is logged once per interval, not once per request", async () => {
    const down: Env = { ...env, DB: failing(env.DB, "D1") };
    const logged: unknown[][] = [];
    const original = console.error;
    console.error = (...args: unknown[]) => void logged.push(args);
    try {
      for (let i = 0; i < 5; i++) expect((await callWith(down, "/demo/x", get(unknownKey()))).status).toBe(503);
    } finally {
      console.error = original;
    }
    expect(logged.filter((args) => String(args[0]).includes("D1 read failed"))).toHaveLength(1);
  });
});

describe("KV failing", () => {
  it("every KV call failing: lookups fall back to D1 and the request succeeds", async () => {
    const { key } = await seedKey({ tier: "enterprise", scopes: ["demo:read"] });
    const { env: counted, counts } = countingEnv();
    const down: Env = { ...counted, KEY_CACHE: failing(env.KEY_CACHE, "KV") };
    const res = await callWith(down, "/demo/x", get(key));
    expect(res.status).toBe(200);
    expect(counts.d1).toBeGreaterThanOrEqual(1);
    const stranger = await callWith(down, "/demo/x", get(unknownKey()));
    expect(stranger.status).toBe(401);
    expect(await code(stranger)).toBe("invalid_key");
  });
});

describe("origin resetting the connection", () => {
  it("before its response headers: 502 origin_unreachable", async () => {
    const { key } = await seedKey({ tier: "enterprise", scopes: ["demo:read"] });
    const res = await callWith(env, "/demo/reset/0", get(key));
    expect(res.status).toBe(502);
    expect(await code(res)).toBe("origin_unreachable");
  });

  it("mid-body: the status is already sent, so the client's body read fails instead of ending as if complete", async () => {
    const { key } = await seedKey({ tier: "enterprise", scopes: ["demo:read"] });
    const res = await callWith(env, "/demo/reset/65536", get(key));
    expect(res.status).toBe(200);
    await expect(res.arrayBuffer()).rejects.toThrow();
  });
});

describe("usage queue failing", () => {
  it("responses are unaffected, and the failure is logged once per interval however many flushes fail", async () => {
    const { key } = await seedKey({ tier: "enterprise", scopes: ["demo:read"] });
    let sends = 0;
    const queue = new Proxy(env.USAGE_QUEUE, {
      get(target, prop) {
        if (prop === "send" || prop === "sendBatch") {
          return () => {
            sends++;
            return Promise.reject(new Error("queue unavailable (injected fault)"));
          };
        }
        return Reflect.get(target, prop) as unknown;
      },
    });
    const down: Env = { ...env, USAGE_QUEUE: queue };
    const logged: unknown[][] = [];
    const original = console.error;
    console.error = (...args: unknown[]) => void logged.push(args);
    try {
      for (let i = 0; i < 5; i++) {
        const res = await callWith(down, "/demo/x", get(key));
        expect(res.status).toBe(200);
        expect(res.headers.get("x-demo-origin")).toBe("keygate");
      }
    } finally {
      console.error = original;
    }
    expect(sends).toBeGreaterThanOrEqual(5);
    expect(logged.filter((args) => String(args[0]).includes("usage queue send failed"))).toHaveLength(1);
  });
});
