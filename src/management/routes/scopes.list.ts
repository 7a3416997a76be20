import { createRoute, z } from "@hono/zod-openapi";
import { BUILTIN_SCOPES } from "../../config";
import type { ManagementApp } from "../context";
import { dataOf, errorResponses, jsonResponse, security } from "../schemas";

// Scope discovery (issue 16): what a key can be given, for the people and programs creating keys.

const ScopeSchema = z
  .object({
    name: z.string().max(100).openapi({ example: "demo:read" }),
    description: z.string().max(1000).openapi({ example: "Read from the demo API" }),
    builtin: z.boolean().openapi({ description: "true for the management scopes every deployment has (admin, keys:read, keys:write, audit:read)" }),
  })
  .openapi("Scope");

const listScopesRoute = createRoute({
  method: "get",
  path: "/scopes",
  tags: ["scopes"],
  operationId: "listScopes",
  summary: "The scope catalogue with descriptions (any authenticated caller)",
  description: [
    "Every scope a key can be given. A key may also be given a wildcard `<prefix>:*` (e.g. `demo:*`), which grants every catalogue scope",
    "starting with `<prefix>:`, including ones added later; `*` alone is not a scope (`admin` grants everything).",
    "Creating or updating a key with a scope outside the catalogue answers 400 with the valid scopes in `details` (field `valid_scopes`).",
  ].join(" "),
  security,
  responses: { 200: jsonResponse(dataOf(z.array(ScopeSchema).max(1000)), "The catalogue, built-in scopes first"), ...errorResponses(401, 403) },
});

export function registerListScopes(app: ManagementApp): void {
  app.openapi(listScopesRoute, (c) => {
    // Authenticated by the middleware: any valid operator token or org key may read the catalogue.
    const scopes = Object.entries(c.get("services").config.scopes).map(([name, description]) => ({ name, description, builtin: Object.hasOwn(BUILTIN_SCOPES, name) }));
    return c.json({ data: scopes }, 200);
  });
}
