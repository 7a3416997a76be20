// The floor: what SPEC §3 makes every proxied request cost on this runtime, with the gateway's own
// code for it, and nothing else. On top of the pass-through (bench/workers/passthrough.ts): the
// identity headers and request id sent to the origin (proxyToOrigin with an identity), and the five
// rate-limit headers added to a copy of the origin's response (the gateway's withHeaders). No key
// check, route policy, limiter logic or usage record. With FLOOR_RPC=1, also one Durable Object
// round trip per request carrying what a strict decision carries (SPEC §7: one round trip per
// request in strict mode) to an object that does nothing with it. A gateway cannot cost less than
// its floor; what it costs above the floor is its own logic. Built by the benchmark only.
import { DurableObject } from "cloudflare:workers";
import { renderError } from "../../src/errors";
import { withHeaders } from "../../src/gateway";
import { Origin, type ProxyIdentity, proxyToOrigin } from "../../src/gateway/proxy";

interface FloorEnv {
  ORIGIN_URL: string;
  ORIGIN_TIMEOUT_MS: string;
  /** "1": one Durable Object round trip per request. */
  FLOOR_RPC: string;
  FLOOR: DurableObjectNamespace<FloorObject>;
}

/** An answer of the shape the limiter object gives (src/ratelimit/wire.ts), computed from nothing. */
export class FloorObject extends DurableObject {
  decideWire(plan: string, cost: number, _operation: string, _keyId: string, _version: number): number[] {
    return [1, plan.length - cost, 0];
  }
}

// Values of the sizes the gateway sends for a bench key (ids, one scope, a tier; one 60 s policy).
const IDENTITY: ProxyIdentity = { orgId: "org_3fK9xQ2mWz7LpR4tVb8N", keyId: "key_7hJ2nX5qLc9RwT3mZp6D", scopes: "demo:read", tier: "bench-fast" };
const RATE_LIMIT_HEADERS: Record<string, string> = {
  "RateLimit-Policy": '"default";q=1000000000;w=60',
  RateLimit: '"default";r=999999999;t=1',
  "X-RateLimit-Limit": "1000000000",
  "X-RateLimit-Remaining": "999999999",
  "X-RateLimit-Reset": "1",
};
const PLAN = '[{"id":"k:bench:default","name":"default","kind":"window","limit":1000000000,"windowMs":60000}]';

// Parsed once per isolate, as the gateway's config is.
let options: { origin: Origin; timeoutMs: number; rpc: boolean } | null = null;

export default {
  async fetch(request, env): Promise<Response> {
    options ??= { origin: new Origin(new URL(env.ORIGIN_URL)), timeoutMs: Number(env.ORIGIN_TIMEOUT_MS), rpc: env.FLOOR_RPC === "1" };
    try {
      if (options.rpc) await env.FLOOR.get(env.FLOOR.idFromName("floor")).decideWire(PLAN, 1, "check", IDENTITY.keyId, 0);
      const origin = await proxyToOrigin(request, new URL(request.url), { origin: options.origin, timeoutMs: options.timeoutMs, identity: IDENTITY });
      return withHeaders(origin, RATE_LIMIT_HEADERS);
    } catch (err) {
      return renderError(err);
    }
  },
} satisfies ExportedHandler<FloorEnv>;
