import { grantsScope, insufficientScope, mayGrant } from "../auth/scopes";
import { ADMIN_SCOPE, BUILTIN_SCOPES } from "../config";
import { KeygateError } from "../errors";
import type { Caller } from "./context";

// What an authenticated caller may do (auth.ts has found out who it is). Each handler calls these
// first: another org's ids answer 404 before any scope is checked, so ids of other tenants leak nothing.

/** The scopes that guard the management API: the built-in ones but `admin`, which grants all of them. */
export type ManagementScope = Exclude<keyof typeof BUILTIN_SCOPES, typeof ADMIN_SCOPE>;
const MANAGEMENT_SCOPES = Object.keys(BUILTIN_SCOPES).filter((scope): scope is ManagementScope => scope !== ADMIN_SCOPE);

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
