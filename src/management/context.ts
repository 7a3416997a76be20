import type { OpenAPIHono } from "@hono/zod-openapi";
import type { Context } from "hono";
import type { KeyCache } from "../cache/interface";
import type { KeyRecord } from "../store/key_records";
import type { Config } from "../config";
import type { Env } from "../env";
import { runtimeFor } from "../isolate";
import type { Db } from "../store/conditional";
import { eventPublisher, type PublishEvents } from "../webhooks/publish";
import { tellLimiterKeyEnded } from "./key_limits";
import type { RevocationDeps } from "./revocation";

/** Who is calling: the operator (ADMIN_TOKEN) or one org's API key. */
export type Caller = { kind: "operator" } | { kind: "key"; key: KeyRecord };

export interface ManagementEnv {
  Bindings: Env;
  Variables: { config: Config; db: Db; caller: Caller };
}

export type ManagementApp = OpenAPIHono<ManagementEnv>;

/** The `actor` written to the audit trail. */
export function actorOf(caller: Caller): string {
  return caller.kind === "operator" ? "operator" : caller.key.id;
}

/** The key-record cache this request can purge (this isolate's memory and KV). */
export function keyCacheOf(c: Context<ManagementEnv>): KeyCache {
  return runtimeFor(c.env).keyCache(c.executionCtx as ExecutionContext);
}

/** Queues webhook events for changes this request made (a no-op without WEBHOOK_URL). */
export function publisherOf(c: Context<ManagementEnv>): PublishEvents {
  return eventPublisher(c.env, c.get("config"));
}

export function revocationOf(c: Context<ManagementEnv>): RevocationDeps {
  return {
    db: c.get("db"),
    cache: keyCacheOf(c),
    publish: publisherOf(c),
    tellEnded: (row, at) => tellLimiterKeyEnded(c, row, { reason: "revoked", at }),
  };
}
