// Test-only handles on the isolate's state (src/isolate.ts): production modules export no test hooks.
// Importing this module injects a storage probe into the isolate's key memory.
import { keyCacheFor as keyCacheOver, type LookupProbe } from "../../src/cache";
import type { KeyCache } from "../../src/cache/interface";
import type { Config } from "../../src/config";
import type { Env } from "../../src/env";
import { isolate } from "../../src/isolate";
import { type EnforceRateLimitInput, enforceRateLimit as enforceWith, RateLimits } from "../../src/ratelimit";

/** Storage operations of hot-path lookups in this isolate since the probe went in (D1 reads include fillKv's re-check). */
export const lookupStats: LookupProbe = { d1Reads: 0, kvReads: 0, kvWrites: 0 };
isolate.keys.probe ??= lookupStats;

/** Forget every key record, unknown hash and indexed key this isolate holds in memory. */
export function clearMemoryCache(): void {
  isolate.keys.clear();
}

/** The hash the presented-key index holds for `key`, if any. */
export function indexedHash(key: string): string | undefined {
  return isolate.keys.index.hashOf(key);
}

/** The isolate's key cache over `env`'s bindings and `config`'s TTLs, as a Runtime builds it. */
export function keyCacheFor(env: Env, config: Config, ctx?: ExecutionContext): KeyCache {
  return keyCacheOver(isolate.keys, env, config, ctx);
}

// Tests build configs of their own (one backend, one failure mode, ...): each keeps its own limiter
// and plans for as long as the test holds the config, as a Runtime would for its config.
const limits = new WeakMap<Config, RateLimits>();

/** enforceRateLimit on `config`'s rate-limit state (one per config object, as in a Runtime). */
export function enforceRateLimit({ config, env, ...rest }: Omit<EnforceRateLimitInput, "limits"> & { config: Config; env: Env }): Promise<Record<string, string>> {
  let state = limits.get(config);
  if (!state) {
    state = new RateLimits(config, env);
    limits.set(config, state);
  }
  return enforceWith({ limits: state, ...rest });
}
