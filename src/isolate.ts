/**
 * Everything keygate keeps in an isolate between requests, in one place. Nothing else in src/ holds
 * request-spanning state of the hot path; modules receive the piece they need from here.
 *
 * Two lifetimes:
 * - `isolate` (one per isolate): the key-record memory (records, unknown hashes, the presented-key
 *   index, the purge epoch) and one usage buffer per queue binding. Shared by every request whatever
 *   env object it carries: the management API's purges and usage flushes must reach the gateway's.
 * - `Runtime` (one per env object, so one per parsed config; in production both are one per isolate):
 *   what is derived from the config and its bindings: the compiled route policy and CORS policy,
 *   the rate limiter with fast mode's local budgets and each record's plan, IP allowlists, the
 *   origin (base path, imported signing key).
 *
 * The config itself is parsed once per env object by `loadConfig` (config.ts), which the Runtime is built on.
 * Not here, because they are not the hot path's: the auth-failure counters (auth/failure_limit.ts,
 * auth/limiter_store.ts), log throttling (log.ts), the Durable Object limiter's id cache, the console's
 * session keys and GitHub's key ring.
 */
import { authoritativeKeyCacheFor, freshKeyCacheFor, KeyMemory, keyCacheFor } from "./cache";
import type { KeyCache } from "./cache/interface";
import { type Config, loadConfig } from "./config";
import type { Env } from "./env";
import { type CorsPolicy, corsPolicy } from "./gateway/cors";
import { Origin, type ProxyIdentity } from "./gateway/proxy";
import { type RoutePolicy, routePolicy } from "./gateway/route_policy";
import { RateLimits } from "./ratelimit";
import type { LimiterProbe } from "./ratelimit/durable_object_limiter";
import type { IpAllowlist } from "./restrictions/ip_allowlist";
import type { KeyRecord } from "./store/key_records";
import type { UsageMessage } from "./store/usage_message";
import { type UsageRecorder, usageRecorder } from "./usage/record";

class Isolate {
  readonly keys = new KeyMemory();
  /** Counts Durable Object limiter calls when a probe is injected (the benchmark does, before the first request). */
  limiterProbe: LimiterProbe | null = null;
  readonly #recorders = new WeakMap<Queue<UsageMessage>, UsageRecorder>();
  readonly #runtimes = new WeakMap<Env, Runtime>();

  /** The env's Runtime; throws `gateway_misconfigured` (a KeygateError) when its config does not parse. */
  runtime(env: Env): Runtime {
    let runtime = this.#runtimes.get(env);
    if (!runtime) {
      runtime = new Runtime(env, loadConfig(env), this);
      this.#runtimes.set(env, runtime);
    }
    return runtime;
  }

  /** One buffer per queue binding; the first config to ask sets its flush interval. */
  usageRecorder(env: Env, config: Config): UsageRecorder {
    let recorder = this.#recorders.get(env.USAGE_QUEUE);
    if (!recorder) {
      recorder = usageRecorder(env.USAGE_QUEUE, { flushIntervalMs: config.usageFlushIntervalMs, events: env.USAGE_EVENTS });
      this.#recorders.set(env.USAGE_QUEUE, recorder);
    }
    return recorder;
  }
}

export const isolate = new Isolate();

export class Runtime {
  readonly env: Env;
  readonly config: Config;
  readonly keys: KeyMemory;
  readonly routes: RoutePolicy;
  /** Null without `CORS`. */
  readonly cors: CorsPolicy | null;
  readonly origin: Origin;
  readonly rateLimits: RateLimits;
  readonly allowlists = new WeakMap<KeyRecord, IpAllowlist>();
  /** The X-Keygate-* identity of each cached record, built once per record. */
  readonly #identities = new WeakMap<KeyRecord, ProxyIdentity>();
  readonly usage: UsageRecorder;

  constructor(env: Env, config: Config, owner: Isolate) {
    this.env = env;
    this.config = config;
    this.keys = owner.keys;
    this.routes = routePolicy(config.routes);
    this.cors = config.cors ? corsPolicy(config.cors) : null;
    this.origin = new Origin(config.originUrl, config.originSigningSecret);
    this.rateLimits = new RateLimits(config, env, owner.limiterProbe);
    this.usage = owner.usageRecorder(env, config);
  }

  /** The tiered key-record cache (memory, KV, D1); made per request, since it carries the request's context. */
  keyCache(ctx?: ExecutionContext): KeyCache {
    return keyCacheFor(this.keys, this.env, this.config, ctx);
  }

  identityOf(record: KeyRecord): ProxyIdentity {
    let identity = this.#identities.get(record);
    if (!identity) {
      identity = { orgId: record.orgId, keyId: record.id, scopes: record.scopes.join(" "), tier: record.tier };
      this.#identities.set(record, identity);
    }
    return identity;
  }

  /** Key lookups from D1 alone, for callers whose every request must see the key as it is now (org keys on the management API). */
  authoritativeKeyCache(): KeyCache {
    return authoritativeKeyCacheFor(this.keys, this.env);
  }

  /** The key cache for a record the limiter says is stale: purges the hash, then reads it again. */
  freshKeyCache(ctx?: ExecutionContext): KeyCache {
    return freshKeyCacheFor(this.keys, this.env, this.config, ctx);
  }
}

/** The Runtime a request with this env runs on; throws the config's KeygateError when it does not parse. */
export function runtimeFor(env: Env): Runtime {
  return isolate.runtime(env);
}
