import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { loadConfig } from "./config";
import type { Env } from "./env";
import { isolate, runtimeFor } from "./isolate";

describe("per-isolate state", () => {
  it("one Runtime per env: its config, compiled ROUTES, limiter and usage buffer are reused", () => {
    const runtime = runtimeFor(env);
    expect(runtimeFor(env)).toBe(runtime);
    expect(runtime.config).toBe(loadConfig(env));
    expect(runtimeFor(env).routes).toBe(runtime.routes);
    expect(runtimeFor(env).rateLimits.limiter).toBe(runtime.rateLimits.limiter);
    expect(runtimeFor(env).usage).toBe(runtime.usage);
  });

  it("another env object gets its own Runtime but shares the isolate's key memory and its queue's usage buffer", () => {
    const other: Env = { ...env };
    const runtime = runtimeFor(other);
    expect(runtime).not.toBe(runtimeFor(env));
    expect(runtime.rateLimits).not.toBe(runtimeFor(env).rateLimits);
    expect(runtime.keys).toBe(isolate.keys);
    expect(runtimeFor(env).keys).toBe(isolate.keys);
    expect(runtime.usage).toBe(runtimeFor(env).usage);
  });

  it("a config that does not parse throws gateway_misconfigured from runtimeFor, every time", () => {
    const bad = { ...env, KEY_PREFIX: "NOPE" } as Env;
    expect(() => runtimeFor(bad)).toThrow(/KEY_PREFIX/);
    expect(() => runtimeFor(bad)).toThrow(/KEY_PREFIX/);
  });
});
