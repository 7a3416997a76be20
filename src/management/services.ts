import { drizzle } from "drizzle-orm/d1";
import type { MiddlewareHandler } from "hono";
import { keyCacheFor } from "../cache";
import { loadConfig } from "../config";
import type { Env } from "../env";
import { limiterFor } from "../ratelimit";
import { usageRecorder } from "../usage/record";
import { eventPublisher } from "../webhooks/publish";
import type { ManagementEnv, Services } from "./context";
import { tellLimiterKeyEnded } from "./limiter_notice";
import type { RevocationDeps } from "./revocation";

/**
 * The services of one management request. The config is parsed here (an invalid one answers 500
 * `gateway_misconfigured` before anything else); the limiter and the usage buffer are made on first
 * use, so a route that needs neither never fails on, or pays for, them.
 */
export function servicesFor(env: Env, ctx: ExecutionContext): Services {
  const config = loadConfig(env);
  const db = drizzle(env.DB);
  const services: Services = {
    config,
    db,
    keyCache: keyCacheFor(env, config, ctx),
    publish: eventPublisher(env, config),
    get limiter() {
      return limiterFor(config, env).store;
    },
    get usage() {
      return usageRecorder(env.USAGE_QUEUE, { flushIntervalMs: config.usageFlushIntervalMs, events: env.USAGE_EVENTS });
    },
    get revocation(): RevocationDeps {
      return { db, cache: services.keyCache, publish: services.publish, tellEnded: (row, at) => tellLimiterKeyEnded(services, row, { reason: "revoked", at }) };
    },
  };
  return services;
}

/** The init middleware: sets `c.get("services")` for everything after it (authentication included). */
export function initServices(): MiddlewareHandler<ManagementEnv> {
  return async (c, next) => {
    c.set("services", servicesFor(c.env, c.executionCtx as ExecutionContext));
    await next();
  };
}
