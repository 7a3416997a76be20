import { createRoute, z } from "@hono/zod-openapi";
import { Scalar } from "@scalar/hono-api-reference";
import type { ManagementApp } from "./context";
import { jsonResponse } from "./schemas";

const DESCRIPTION = [
  "Manage orgs, API keys and the audit trail of a keygate gateway.",
  "",
  "Authenticate with `Authorization: Bearer <token>`: the operator's `ADMIN_TOKEN` may do everything;",
  "an org's API key may act on its own org only, with `keys:read`, `keys:write`, `audit:read` or `admin`.",
  "Another org's resources answer 404. Errors use one envelope: `{ error: { code, message, details? } }`.",
  "",
  "## For the people who receive keys",
  "- Store a key in a secrets manager or an environment variable; never commit it. It is shown once and cannot be read again.",
  "- A key committed to a public repository is found by GitHub secret scanning and revoked by the gateway: ask for a new one.",
  "- Use one key per integration, with only the scopes it needs (`GET /scopes` lists them) and, where callers are known, `allowed_ips`.",
  "- Set an expiry (`expires_in`), and rotate at least every 90 days with a grace period (`POST .../rotate {\"grace_period\": \"1h\"}`).",
  "",
  "## Compatibility",
  "Within /v1 changes are additive only (new endpoints, optional fields, response fields, error codes, status values); clients must ignore unknown fields.",
].join("\n");

const healthRoute = createRoute({
  method: "get",
  path: "/health",
  tags: ["meta"],
  summary: "Liveness (no auth)",
  security: [],
  responses: { 200: jsonResponse(z.object({ data: z.object({ status: z.literal("ok") }) }), "The worker is up") },
});

/** /health, the OpenAPI 3.1 document generated from the route schemas, and the interactive docs. No auth. */
export function registerDocs(app: ManagementApp, basePath: string): void {
  app.openapi(healthRoute, (c) => c.json({ data: { status: "ok" as const } }, 200));

  app.openAPIRegistry.registerComponent("securitySchemes", "bearer", {
    type: "http",
    scheme: "bearer",
    description: "The operator token (ADMIN_TOKEN) or an org API key",
  });
  app.doc31("/openapi.json", (c) => ({
    openapi: "3.1.0",
    info: { title: "keygate management API", version: "1.0.0", description: DESCRIPTION },
    servers: [{ url: new URL(c.req.url).origin }],
    security: [{ bearer: [] }],
  }));

  // Scalar renders in the browser from its CDN bundle; the document itself is served from here.
  app.get("/docs", Scalar({ url: `${basePath}/openapi.json`, pageTitle: "keygate management API" }));
}
