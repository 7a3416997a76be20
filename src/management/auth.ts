import type { MiddlewareHandler } from "hono";
import { KeygateError } from "../errors";
import { extractCredential, wwwAuthenticate } from "../auth/credentials";
import { AuthFailure, type AuthFailureReason, verifyKey } from "../auth/verify";
import { authFailureRefusal, clientSource, countAuthFailure, withAuthFailureBudget } from "../auth/failure_limit";
import { assertIpAllowed } from "../restrictions";
import type { Caller, ManagementEnv, Services } from "./context";

// Who is calling, and nothing else: the operator token or an org key, checked like the hot path
// checks keys. What the caller may then do is authorize.ts; the services it uses come from services.ts.

const encoder = new TextEncoder();

/**
 * Constant-time comparison of a presented secret with the configured one. Both sides are hashed
 * first so the compared buffers always have the same length (timingSafeEqual would otherwise
 * throw, and an early length check would leak the token's length), then compared with workerd's
 * `crypto.subtle.timingSafeEqual`, whose running time does not depend on where the bytes differ.
 */
async function sameSecret(presented: string, expected: string): Promise<boolean> {
  const [a, b] = await Promise.all([
    crypto.subtle.digest("SHA-256", encoder.encode(presented)),
    crypto.subtle.digest("SHA-256", encoder.encode(expected)),
  ]);
  return crypto.subtle.timingSafeEqual(a, b);
}

/**
 * Same trail as the hot path: a revoked or expired key knocking on the management API becomes an
 * auth.failed event in its org's audit (aggregated by the queue consumer); unknown keys and wrong
 * operator tokens (`invalid_admin_token`) are aggregated per source like any other. Each one also
 * counts against the source's AUTH_FAILURE_LIMIT (missing credentials do not: nothing was tried).
 */
async function recordAuthFailure(
  failure: { reason: AuthFailureReason; keyId?: string | null; orgId?: string | null },
  source: string,
  services: Services,
  env: ManagementEnv["Bindings"],
  ctx: ExecutionContext,
): Promise<void> {
  const { config } = services;
  services.usage.authFailure(ctx, { source, reason: failure.reason, keyId: failure.keyId ?? null, orgId: failure.orgId ?? null, at: Date.now() });
  // Malformed keys are counted in the isolate only: SPEC §2 promises they cost no limiter call.
  if (failure.reason !== "missing_credentials") await countAuthFailure(config, env, source, { shared: failure.reason !== "malformed_key" });
}

/**
 * The operator token when it matches ADMIN_TOKEN; otherwise anything that looks like a key goes
 * through the same `verifyKey` as the hot path (format, cache, revoked, expired). Without a
 * configured ADMIN_TOKEN the operator path is closed, never open.
 */
async function authenticateCaller(headers: Headers, services: Services, env: ManagementEnv["Bindings"], ctx: ExecutionContext): Promise<Caller> {
  const { config } = services;
  const source = clientSource(headers);
  const refusal = authFailureRefusal(source);
  if (refusal) throw refusal;
  const credential = extractCredential(headers);
  if (credential === null) {
    throw new KeygateError("missing_credentials", "send the operator token or an org API key as 'Authorization: Bearer <token>'", {
      headers: { "WWW-Authenticate": wwwAuthenticate() },
    });
  }
  if (config.adminToken !== undefined && (await sameSecret(credential, config.adminToken))) return { kind: "operator" };
  if (credential.startsWith(config.keyPrefix)) {
    let key;
    try {
      // From D1, not the caches: a key revoked or narrowed at another location stops managing keys at once.
      key = await verifyKey(credential, config, services.callerKeys);
    } catch (err) {
      if (err instanceof AuthFailure) await recordAuthFailure({ reason: err.reason, keyId: err.record?.id, orgId: err.record?.orgId }, source, services, env, ctx);
      throw err;
    }
    // A stolen org key is as useless on the management API as at the gateway.
    assertIpAllowed(key, headers, services.allowlists);
    return { kind: "key", key };
  }
  await recordAuthFailure({ reason: "invalid_admin_token" }, source, services, env, ctx);
  throw new KeygateError("unauthorized", "the operator token is not valid", {
    headers: { "WWW-Authenticate": wwwAuthenticate("invalid_token") },
  });
}

/** Identifies the caller of every authenticated route (after the init middleware has set up the services). */
export function managementAuth(): MiddlewareHandler<ManagementEnv> {
  return async (c, next) => {
    const services = c.get("services");
    const { config } = services;
    let caller: Caller;
    try {
      caller = await authenticateCaller(c.req.raw.headers, services, c.env, c.executionCtx as ExecutionContext);
    } catch (err) {
      // No credential's budget applies yet: the answer carries the source's failed-authentication budget.
      if (!(err instanceof KeygateError)) throw err;
      throw withAuthFailureBudget(err, config, clientSource(c.req.raw.headers));
    }
    c.set("caller", caller);
    await next();
  };
}
