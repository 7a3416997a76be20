import { createRoute, z } from "@hono/zod-openapi";
import { configStatus } from "../../config";
import type { ManagementApp } from "../context";
import { ErrorSchema } from "../schemas";

const healthRoute = createRoute({
  operationId: "health",
  method: "get",
  path: "/health",
  tags: ["meta"],
  summary: "Liveness and config validity (no auth)",
  description: "No credentials, no rate limit and no storage access: a probe must stay cheap (see .spectral.yaml for the rules this route is exempt from). Answers 200 while the worker is up. `config` is `invalid` when the gateway's configuration does not parse (then every other request answers 500 `gateway_misconfigured`); the reasons are in the worker's log and in `npm run check-config`, never here.",
  security: [],
  responses: {
    200: {
      description: "The worker is up; `status` is `degraded` when the config is invalid",
      content: { "application/json": { schema: z.object({ data: z.object({ status: z.enum(["ok", "degraded"]), config: z.enum(["valid", "invalid"]) }) }) } },
    },
    500: { description: "Internal error", content: { "application/json": { schema: ErrorSchema } } },
  },
});

/** No auth, no services: answers while the config is invalid. */
export function registerHealth(app: ManagementApp): void {
  app.openapi(healthRoute, (c) => {
    const config = configStatus(c.env);
    return c.json({ data: { status: config === "valid" ? ("ok" as const) : ("degraded" as const), config } }, 200);
  });
}
