import type { OpenAPIHono } from "@hono/zod-openapi";
import type { KeyCache } from "../cache/interface";
import type { KeyRecord } from "../store/key_records";
import type { Config } from "../config";
import type { Env } from "../env";
import type { RateLimiter } from "../ratelimit/interface";
import type { Allowlists } from "../restrictions";
import type { Db } from "../store/conditional";
import type { UsageRecorder } from "../usage/record";
import type { PublishEvents } from "../webhooks/publish";
import type { RevocationDeps } from "./revocation";

/** Who is calling: the operator (ADMIN_TOKEN) or one org's API key. */
export type Caller = { kind: "operator" } | { kind: "key"; key: KeyRecord };

/**
 * What a management handler works with, made once per request by the init middleware
 * (src/management/services.ts) before anyone is authenticated. Handlers take them from
 * `c.get("services")` and never build their own.
 */
export interface Services {
  config: Config;
  db: Db;
  /** The key-record cache this request can purge (this isolate's memory and KV). */
  keyCache: KeyCache;
  /** Key records read from D1 alone: how an org key calling the API is verified (a change made elsewhere holds at once). */
  callerKeys: KeyCache;
  /** Queues webhook events for changes this request made (a no-op without WEBHOOK_URL). */
  publish: PublishEvents;
  /** The store the gateway counts in (peek, endKey, keyChanged); made on first use. */
  readonly limiter: RateLimiter;
  /** This isolate's usage buffer (auth failures, flush). */
  readonly usage: UsageRecorder;
  /** Compiled `allowed_ips` of the key records this isolate has seen. */
  readonly allowlists: Allowlists;
  /** What a revoke needs: database, caches, webhooks and the key's limiter object. */
  readonly revocation: RevocationDeps;
}

export interface ManagementEnv {
  Bindings: Env;
  Variables: { services: Services; caller: Caller };
}

export type ManagementApp = OpenAPIHono<ManagementEnv>;

/** The `actor` written to the audit trail. */
export function actorOf(caller: Caller): string {
  return caller.kind === "operator" ? "operator" : caller.key.id;
}
