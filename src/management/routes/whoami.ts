import { createRoute, z } from "@hono/zod-openapi";
import type { ManagementApp } from "../context";
import { errorResponses, idString, jsonResponse, security } from "../schemas";

const WhoamiSchema = z
  .object({
    kind: z.enum(["operator", "key"]).openapi({ description: "The operator token, or an org's API key" }),
    org_id: idString("org_3kTMd9vW1qXb2LcY8nZp").nullable().openapi({ description: "The key's org; null for the operator" }),
    key_id: idString("key_8hQ2vN5mXcR1tLp0WzKa").nullable().openapi({ description: "The key's id; null for the operator" }),
    scopes: z.array(z.string().max(100)).max(50).nullable().openapi({ description: "The key's scopes; null for the operator (who may do everything)" }),
  })
  .openapi("Whoami");

const whoamiRoute = createRoute({
  operationId: "whoami",
  method: "get",
  path: "/whoami",
  tags: ["meta"],
  summary: "Who the credential is: the operator, or which org key (never the key itself)",
  description: "Lets a client (the console, the CLI) learn the org and scopes of an org key it was given, with the same checks as every other route.",
  security,
  responses: { 200: jsonResponse(z.object({ data: WhoamiSchema }), "The caller"), ...errorResponses(401, 403, 404) },
});

export function registerWhoami(app: ManagementApp): void {
  app.openapi(whoamiRoute, (c) => {
    const caller = c.get("caller");
    c.header("Cache-Control", "no-store");
    if (caller.kind === "operator") return c.json({ data: { kind: "operator" as const, org_id: null, key_id: null, scopes: null } }, 200);
    return c.json({ data: { kind: "key" as const, org_id: caller.key.orgId, key_id: caller.key.id, scopes: caller.key.scopes } }, 200);
  });
}
