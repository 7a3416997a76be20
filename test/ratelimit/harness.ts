// Shared by the rate-limit tests: both backends over their real stores, configs for them, and
// bridges of a test's own (test/node/upstash-bridge.ts) that it may stop, restart or slow down.
import { createExecutionContext, evictDurableObject, runInDurableObject, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import type { KeyRecord } from "../../src/store/key_records";
import { handleRequest } from "../../src/app";
import { type Config, parseConfig } from "../../src/config";
import type { Env } from "../../src/env";
import { durableObjectLimiter } from "../../src/ratelimit/durable_object_limiter";
import type { Policy } from "../../src/ratelimit/counters";
import type { RateLimiter } from "../../src/ratelimit/interface";
import type { LimitPlan } from "../../src/ratelimit/policy";
import { upstashLimiter } from "../../src/ratelimit/upstash";
import { MANAGEMENT } from "../harness";
import { expectJson } from "../management/support";

declare global {
  namespace Cloudflare {
    interface Env {
      TEST_REDIS_BRIDGE_CONTROL_URL: string;
    }
  }
}

export type BackendName = "durable-object" | "upstash";

export interface Backend {
  name: BackendName;
  /** The backend over its real store (the shared bridge for Upstash, unless `url` points at another). */
  limiter(options?: { timeoutMs?: number; url?: string }): RateLimiter;
}

export const BACKENDS: Backend[] = [
  { name: "durable-object", limiter: (options) => durableObjectLimiter({ namespace: env.RATE_LIMITER, timeoutMs: options?.timeoutMs }) },
  {
    name: "upstash",
    limiter: (options) => upstashLimiter({ url: options?.url ?? env.UPSTASH_REDIS_REST_URL!, token: env.UPSTASH_REDIS_REST_TOKEN!, timeoutMs: options?.timeoutMs }),
  },
];

export interface LimitState {
  name: string;
  kind: string;
  limit: number;
  window: string | null;
  period: string | null;
  seconds: number;
  remaining: number;
  reset_at: string | null;
  reset_seconds: number | null;
}

/**
 * The whole worker (management API and gateway) with some vars or bindings changed, as a deploy with
 * them would be; one env object, so one parsed config and one limiter for all its calls.
 */
export function workerWith(overrides: Partial<Env> = {}) {
  const variant: Env = { ...env, ...overrides };
  const call = async (path: string, init: { method?: string; json?: unknown; token?: string } = {}) => {
    const headers = new Headers({ authorization: `Bearer ${init.token ?? env.ADMIN_TOKEN}` });
    if (init.json !== undefined) headers.set("content-type", "application/json");
    const ctx = createExecutionContext();
    const res = await handleRequest(
      new Request(`http://gw.test${path}`, { method: init.method ?? (init.json === undefined ? "GET" : "POST"), headers, body: init.json === undefined ? undefined : JSON.stringify(init.json) }),
      variant,
      ctx,
    );
    await waitOnExecutionContext(ctx);
    return res;
  };
  const api = (path: string, init?: { method?: string; json?: unknown; token?: string }) => call(MANAGEMENT + path, init);
  return {
    api,
    gateway: (key: string, path = "/demo/items", method = "GET") => call(path, { token: key, method }),
    async org(tier = "free") {
      return (await expectJson<{ data: { id: string } }>(await api("/orgs", { json: { name: "limits org", tier } }), 201)).data.id;
    },
    async key(orgId: string, body: Record<string, unknown> = {}, token?: string) {
      const res = await api(`/orgs/${orgId}/keys`, { json: { name: "k", scopes: ["demo:read"], ...body }, token });
      return (await expectJson<{ data: { id: string; key: string; rate_limits: unknown; quota: unknown; rate_limit: unknown } }>(res, 201)).data;
    },
    async limits(orgId: string, keyId: string, token?: string) {
      return (await expectJson<{ data: { policies: LimitState[]; mode: string; shared_with_rotation_chain_of: string } }>(await api(`/orgs/${orgId}/keys/${keyId}/limits`, { token }), 200)).data;
    },
  };
}

/** A plan over made-up policies for one scope, as `limitPlan` builds them for a key. */
export function planOf(scope: string, policies: Policy[], options: { mode?: "strict" | "fast"; keyId?: string } = {}): LimitPlan {
  return {
    scope,
    keyId: options.keyId ?? "key_test",
    counters: policies.map((policy) => ({ id: `${scope}:${policy.name}:${policy.kind === "window" ? policy.windowMs : policy.period}`, policy })),
    mode: options.mode ?? "strict",
    version: 0,
  };
}

export const windowPolicy = (limit: number, windowMs = 60_000, name = "default"): Policy => ({ name, kind: "window", limit, windowMs });
export const quotaPolicy = (limit: number, period: "day" | "month" = "month"): Policy => ({ name: "quota", kind: "quota", limit, period });

/** Identifiers no other test (or earlier run against the same Redis) has used. */
export function uniqueId(kind: "key" | "org" = "key"): string {
  return `${kind}:test_${crypto.randomUUID()}`;
}

/** A real config, parsed as the worker parses its vars. */
export function configFor(backend: BackendName, vars: Record<string, unknown> = {}): Config {
  return parseConfig({
    TIERS: { free: { limit: 5, window: "60s" } },
    RATE_LIMIT_BACKEND: backend,
    UPSTASH_REDIS_REST_URL: env.UPSTASH_REDIS_REST_URL,
    UPSTASH_REDIS_REST_TOKEN: env.UPSTASH_REDIS_REST_TOKEN,
    ...vars,
  });
}

/** A cached key record as verifyKey hands it to the rate limiter. */
export function keyRecord(overrides: Partial<KeyRecord> = {}): KeyRecord {
  return {
    id: `key_${crypto.randomUUID().replaceAll("-", "")}`,
    orgId: `org_${crypto.randomUUID().replaceAll("-", "")}`,
    tier: "free",
    scopes: [],
    expiresAt: null,
    revokedAt: null,
    rateLimit: null,
    ...overrides,
  };
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));
}

/** A bridge of the test's own in front of the shared redis-server. */
export interface OwnBridge {
  url: string;
  stop(): Promise<void>;
  start(): Promise<void>;
  delay(ms: number): Promise<void>;
  close(): Promise<void>;
  /** Round trips (HTTP requests) the bridge has answered. */
  requests(): Promise<number>;
}

export async function ownBridge(): Promise<OwnBridge> {
  const control = async (path: string, body?: unknown) => {
    const res = await fetch(`${env.TEST_REDIS_BRIDGE_CONTROL_URL}${path}`, {
      method: "POST",
      headers: { authorization: `Bearer ${env.UPSTASH_REDIS_REST_TOKEN}`, "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    if (!res.ok) throw new Error(`bridge control ${path}: ${res.status} ${await res.text()}`);
    return (await res.json()) as { id: string; url: string; requests?: number };
  };
  const { id, url } = await control("/bridges");
  return {
    url,
    stop: async () => void (await control(`/bridges/${id}/stop`)),
    start: async () => void (await control(`/bridges/${id}/start`)),
    delay: async (ms) => void (await control(`/bridges/${id}/delay`, { ms })),
    close: async () => void (await control(`/bridges/${id}/close`)),
    requests: async () => (await control(`/bridges/${id}/stats`)).requests!,
  };
}

/**
 * Makes a backend's real store fail for an identifier: the Upstash bridge a config points at stops
 * (or stalls), or the identifier's Durable Object loses its table under it (or is held busy).
 */
export interface StoreFaults {
  config(vars?: Record<string, unknown>): Config;
  /** The store stops answering; requests for `identifier` fail. */
  down(identifier: string): Promise<void>;
  /** The store answers `identifier` only after `ms`. */
  slow(identifier: string, ms: number): Promise<void>;
  /** The store answers again. */
  up(identifier: string): Promise<void>;
  close(): Promise<void>;
}

export async function storeFaults(backend: BackendName): Promise<StoreFaults> {
  if (backend === "upstash") {
    const bridge = await ownBridge();
    return {
      config: (vars = {}) => configFor("upstash", { UPSTASH_REDIS_REST_URL: bridge.url, ...vars }),
      down: () => bridge.stop(),
      slow: (_, ms) => bridge.delay(ms),
      up: async () => {
        await bridge.delay(0);
        await bridge.start();
      },
      close: () => bridge.close(),
    };
  }
  const stub = (identifier: string) => env.RATE_LIMITER.get(env.RATE_LIMITER.idFromName(identifier));
  let busy: Promise<unknown> = Promise.resolve();
  return {
    config: (vars = {}) => configFor("durable-object", vars),
    // A storage fault: the object's next write throws, as a real storage error would.
    down: (identifier) => runInDurableObject(stub(identifier), (_, state) => void state.storage.sql.exec("DROP TABLE counters")),
    // The object is held busy (its input gate closed) for `ms`: every call queues behind it.
    slow: async (identifier, ms) => {
      // A flag, not a promise: a promise resolved from inside the object's request context never wakes the test's.
      const block = { holding: false, settled: false };
      busy = runInDurableObject(stub(identifier), (_, state) =>
        state.blockConcurrencyWhile(() => {
          block.holding = true; // the object's input gate is closed from here until the sleep ends
          return sleep(ms);
        }),
      ).finally(() => (block.settled = true));
      // Returns once the block has taken hold, not after a guessed pause.
      const deadline = Date.now() + 5_000;
      while (!block.holding && !block.settled) {
        if (Date.now() > deadline) throw new Error("the Durable Object did not start blocking within 5 s");
        await sleep(1);
      }
    },
    // A fresh instance recreates its table.
    up: async (identifier) => {
      await busy;
      await evictDurableObject(stub(identifier));
    },
    close: async () => void (await busy),
  };
}
