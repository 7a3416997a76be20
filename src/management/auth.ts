import { drizzle } from "drizzle-orm/d1";
import type { MiddlewareHandler } from "hono";
import { ADMIN_SCOPE, BUILTIN_SCOPES, type Config, loadConfig } from "../config";
import { grantsScope, insufficientScope, mayGrant } from "../auth/scopes";
import { KeygateError } from "../errors";
import { extractCredential, wwwAuthenticate } from "../auth/credentials";
import { AuthFailure, type AuthFailureReason, verifyKey } from "../auth/verify";
import { authFailureBudgetHeaders, authFailureRefusal, clientSource, countAuthFailure } from "../auth/failure_limit";
import { runtimeFor } from "../isolate";
import { assertIpAllowed } from "../restrictions";
import type { Caller, ManagementEnv } from "./context";

/** The scopes that guard the management API: the built-in ones but `admin`, which grants all of them. */
export type ManagementScope = Exclude<keyof typeof BUILTIN_SCOPES, typeof ADMIN_SCOPE>;
const MANAGEMENT_SCOPES = Object.keys(BUILTIN_SCOPES).filter((scope): scope is ManagementScope => scope !== ADMIN_SCOPE);

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
  env: ManagementEnv["Bindings"],
  config: Config,
  ctx: ExecutionContext,
): Promise<void> {
  runtimeFor(env).usage.authFailure(ctx, { source, reason: failure.reason, keyId: failure.keyId ?? null, orgId: failure.orgId ?? null, at: Date.now() });
  // Malformed keys are counted in the isolate only: SPEC §2 promises they cost no limiter call.
  if (failure.reason !== "missing_credentials") await countAuthFailure(config, env, source, { shared: failure.reason !== "malformed_key" });
}

/**
 * The operator token when it matches ADMIN_TOKEN; otherwise anything that looks like a key goes
 * through the same `verifyKey` as the hot path (format, cache, revoked, expired). Without a
 * configured ADMIN_TOKEN the operator path is closed, never open.
 */
async function authenticateCaller(headers: Headers, env: ManagementEnv["Bindings"], config: Config, ctx: ExecutionContext): Promise<Caller> {
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
      key = await verifyKey(credential, config, runtimeFor(env).keyCache(ctx));
    } catch (err) {
      if (err instanceof AuthFailure) await recordAuthFailure({ reason: err.reason, keyId: err.record?.id, orgId: err.record?.orgId }, source, env, config, ctx);
      throw err;
    }
    // A stolen org key is as useless on the management API as at the gateway.
    assertIpAllowed(key, headers, runtimeFor(env).allowlists);
    return { kind: "key", key };
  }
  await recordAuthFailure({ reason: "invalid_admin_token" }, source, env, config, ctx);
  throw new KeygateError("unauthorized", "the operator token is not valid", {
    headers: { "WWW-Authenticate": wwwAuthenticate("invalid_token") },
  });
}

/** Loads config, opens the database and identifies the caller for every authenticated route. */
export function managementAuth(): MiddlewareHandler<ManagementEnv> {
  return async (c, next) => {
    const config = loadConfig(c.env);
    c.set("config", config);
    c.set("db", drizzle(c.env.DB));
    let caller: Caller;
    try {
      caller = await authenticateCaller(c.req.raw.headers, c.env, config, c.executionCtx as ExecutionContext);
    } catch (err) {
      // No credential's budget applies yet: the answer carries the source's failed-authentication budget.
      if (!(err instanceof KeygateError)) throw err;
      const budget = authFailureBudgetHeaders(config, clientSource(c.req.raw.headers));
      throw new KeygateError(err.code, err.message, { details: err.details, headers: { ...err.headers, ...budget } });
    }
    c.set("caller", caller);
    await next();
  };
}

export function grants(held: readonly string[], scope: string): boolean {
  return grantsScope(held, scope);
}

export function orgNotFound(orgId: string): KeygateError {
  return new KeygateError("not_found", `org ${orgId} not found`);
}

/** Operator-only routes (creating, listing and changing orgs). */
export function requireOperator(caller: Caller): void {
  if (caller.kind !== "operator") throw new KeygateError("forbidden", "only the operator token may do this");
}

/**
 * The operator may act on any org; an org key only on its own, and only with the scope.
 * Another org's ids answer 404 exactly like ids that do not exist, and that check comes
 * before the scope check, so a key learns nothing about other tenants.
 */
export function authorizeOrg(caller: Caller, orgId: string, scope: ManagementScope | "any"): void {
  if (caller.kind === "operator") return;
  if (caller.key.orgId !== orgId) throw orgNotFound(orgId);
  if (scope === "any") {
    if (!MANAGEMENT_SCOPES.some((s) => grants(caller.key.scopes, s))) throw insufficientScope("management", ["keys:read"]);
    return;
  }
  if (!grants(caller.key.scopes, scope)) throw insufficientScope("management", [scope]);
}

/**
 * A key may only hand out scopes it holds itself (or any, with `admin`): otherwise a
 * `keys:write` key could mint an `admin` key and escalate. A wildcard it holds covers the scopes
 * under it; handing out a wildcard needs one at least as broad. The operator may grant anything.
 */
export function assertCanGrant(caller: Caller, scopes: readonly string[]): void {
  if (caller.kind === "operator" || caller.key.scopes.includes(ADMIN_SCOPE)) return;
  const missing = scopes.filter((scope) => !mayGrant(caller.key.scopes, scope));
  if (missing.length > 0) {
    throw new KeygateError("insufficient_scope", `a key can only grant scopes it holds itself; this key lacks ${missing.join(", ")}`, {
      details: missing.map((scope) => ({ field: `scopes[${scopes.indexOf(scope)}]`, message: `the calling key does not hold ${scope}` })),
    });
  }
}

/**
 * SPEC §9: an org key may not update, revoke or rotate a key holding a scope it does not hold
 * itself (a `keys:write` key must not demote or revoke an `admin` key). The operator and `admin`
 * keys may act on any key of the org.
 */
export function assertCanManage(caller: Caller, target: { id: string; scopes: readonly string[] }): void {
  if (caller.kind === "operator" || caller.key.scopes.includes(ADMIN_SCOPE)) return;
  // Wildcard-aware like granting: `demo:*` covers a target's `demo:read`; a target's `demo:*` needs one as broad.
  const missing = target.scopes.filter((scope) => !mayGrant(caller.key.scopes, scope));
  if (missing.length > 0) {
    throw new KeygateError("insufficient_scope", `key ${target.id} holds scopes this key lacks (${missing.join(", ")}); only a key holding them, or the operator, may change it`, {
      details: missing.map((scope) => ({ field: "scopes", message: `the calling key does not hold ${scope}` })),
    });
  }
}
