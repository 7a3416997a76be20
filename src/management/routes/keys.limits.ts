import { createRoute, z } from "@hono/zod-openapi";
import { consistencyMode, quotaPeriod } from "../../ratelimit/tiers";
import { formatDuration } from "../../duration";
import { KeygateError } from "../../errors";
import { policySeconds } from "../../ratelimit/counters";
import { secondsUntil } from "../../ratelimit/headers";
import { RateLimiterUnavailableError } from "../../ratelimit/interface";
import { limitPlan } from "../../ratelimit/policy";
import { findKey } from "../../store/keys";
import { type KeyWindowLimit, keyLimitsOf } from "../../store/schema";
import { writtenWindow } from "../key_limits";
import { findOrg } from "../../store/orgs";
import { authorizeOrg, orgNotFound } from "../authorize";
import type { ManagementApp } from "../context";
import { dataOf, errorResponses, idString, int32, int64, iso, jsonResponse, KeyIdParams, security, timestamp } from "../schemas";

const PolicyStateSchema = z
  .object({
    name: z.string().max(32).openapi({ example: "default" }),
    kind: z.enum(["window", "quota"]),
    limit: int64(1),
    window: z.string().max(16).nullable().openapi({ description: 'The window ("60s"); null for a quota', example: "60s" }),
    period: quotaPeriod.nullable().openapi({ description: "The quota's UTC calendar period; null for a window" }),
    seconds: int32(1, 2_678_400).openapi({ description: "The span in RateLimit-Policy's w= (a month counts 30 days)" }),
    remaining: int64(0).openapi({ description: "Units left now" }),
    reset_at: timestamp.nullable().openapi({ description: "When the next unit comes back (a quota: when the period resets); null when nothing is spent" }),
    reset_seconds: int32(0, 2_678_400).nullable(),
  })
  .openapi("LimitState");

const KeyLimitsSchema = z
  .object({
    key_id: idString("key_8hQ2vN5mXcR1tLp0WzKa"),
    mode: consistencyMode,
    shared_with_rotation_chain_of: idString("key_8hQ2vN5mXcR1tLp0WzKa").openapi({ description: "The first key of this key's rotation chain: its successors share these counters" }),
    policies: z.array(PolicyStateSchema).max(32),
  })
  .openapi("KeyLimits");

const getKeyLimitsRoute = createRoute({
  method: "get",
  path: "/orgs/{org_id}/keys/{key_id}/limits",
  tags: ["keys"],
  operationId: "getKeyLimits",
  summary: "Every limit of a key with what is left, read without spending (needs keys:read)",
  description: "Windows, quota and the org aggregate, as the gateway counts them; reading spends nothing. Fast-mode spend not yet reported by an isolate is not included.",
  security,
  request: { params: KeyIdParams },
  responses: { 200: jsonResponse(dataOf(KeyLimitsSchema), "The key's limits"), ...errorResponses(401, 403, 404, 503) },
});

export function registerGetKeyLimits(app: ManagementApp): void {
  app.openapi(getKeyLimitsRoute, async (c) => {
    const { org_id, key_id } = c.req.valid("param");
    authorizeOrg(c.get("caller"), org_id, "keys:read");
    const services = c.get("services");
    const { config, db } = services;
    const [row, org] = await Promise.all([findKey(db, org_id, key_id), findOrg(db, org_id)]);
    if (!org) throw orgNotFound(org_id);
    if (!row) throw new KeygateError("not_found", `key ${key_id} not found`);
    const plan = limitPlan(config, { id: row.id, orgId: org_id, tier: org.tier, scopes: row.scopes, expiresAt: row.expiresAt, revokedAt: row.revokedAt, rateLimit: row.rateLimit, limiterId: row.limiterId });
    let states: { remaining: number; resetAt: number }[];
    try {
      const answer = await services.limiter.peek(plan, 1);
      states = answer.policies.map((p) => ({ remaining: p.remaining, resetAt: p.remaining === p.limit ? 0 : p.resetAt }));
    } catch (err) {
      if (!(err instanceof RateLimiterUnavailableError)) throw err;
      throw new KeygateError("rate_limiter_unavailable", "the rate limiter is unavailable; try again shortly", { headers: { "Retry-After": "1" } });
    }
    const now = Date.now();
    const own = keyLimitsOf(row.rateLimit)?.limits;
    return c.json(
      {
        data: {
          key_id: row.id,
          mode: plan.mode,
          shared_with_rotation_chain_of: row.limiterId ?? row.id,
          policies: plan.counters.map(({ policy }, i) => {
            const state = states[i]!;
            const reset = state.resetAt > 0 && Number.isFinite(state.resetAt) ? state.resetAt : null;
            return {
              name: policy.name,
              kind: policy.kind,
              limit: policy.limit,
              window: policy.kind === "window" ? shownWindow(own, policy.name, policy.windowMs) : null,
              period: policy.kind === "quota" ? policy.period : null,
              seconds: policySeconds(policy),
              remaining: state.remaining,
              reset_at: iso(reset),
              reset_seconds: reset === null ? null : secondsUntil(reset, now),
            };
          }),
        },
      },
      200,
    );
  });
}

/** A window as the key's own limits wrote it ("60s"), else (the tier's) its shortest rendering. */
function shownWindow(own: KeyWindowLimit[] | undefined, name: string, windowMs: number): string {
  const mine = own?.find((l) => l.name === name && l.window === windowMs);
  return mine ? writtenWindow(mine) : formatDuration(windowMs);
}
