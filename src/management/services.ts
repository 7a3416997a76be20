import { drizzle } from "drizzle-orm/d1";
import type { MiddlewareHandler } from "hono";
import type { Env } from "../env";
import { runtimeFor } from "../isolate";
import { eventPublisher } from "../webhooks/publish";
import type { ManagementEnv, Services } from "./context";
import { tellLimiterKeyEnded } from "./limiter_notice";
import type { RevocationDeps } from "./revocation";

/**
 * The services of one management request, taken from this isolate's Runtime (src/isolate.ts): the
 * same key memory, limiter and usage buffer the gateway uses, so a purge or a flush here reaches it.
 * An invalid config answers 500 `gateway_misconfigured` here, before anything else; the limiter is
 * made on first use, so a route that does not need it never fails on it.
 */
export function servicesFor(env: Env, ctx: ExecutionContext): Services {
  const runtime = runtimeFor(env);
  const { config } = runtime;
  const db = drizzle(env.DB);
  const services: Services = {
    config,
    db,
    keyCache: runtime.keyCache(ctx),
    callerKeys: runtime.authoritativeKeyCache(),
    publish: eventPublisher(env, config),
    get limiter() {
      return runtime.rateLimits.limiter.store;
    },
    usage: runtime.usage,
    allowlists: runtime.allowlists,
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
