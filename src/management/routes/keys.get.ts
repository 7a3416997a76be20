import { createRoute } from "@hono/zod-openapi";
import { findKey, findSuccessor } from "../../store/keys";
import { authorizeOrg } from "../authorize";
import type { ManagementApp } from "../context";
import { keyNotFound } from "../keys";
import { KeySchema, presentKey } from "../representations";
import { dataOf, errorResponses, jsonResponse, KeyIdParams, security } from "../schemas";

const getKeyRoute = createRoute({
  operationId: "getKey",
  method: "get",
  path: "/orgs/{org_id}/keys/{key_id}",
  tags: ["keys"],
  summary: "Read a key (needs keys:read); never the key itself",
  description: "The key's identifier and last 4 characters identify it; the full key was shown once, at create or rotate.",
  security,
  request: { params: KeyIdParams },
  responses: { 200: jsonResponse(dataOf(KeySchema), "The key"), ...errorResponses(401, 403, 404) },
});

export function registerGetKey(app: ManagementApp): void {
  app.openapi(getKeyRoute, async (c) => {
    const { org_id, key_id } = c.req.valid("param");
    authorizeOrg(c.get("caller"), org_id, "keys:read");
    const { db } = c.get("services");
    const [row, successor] = await Promise.all([findKey(db, org_id, key_id), findSuccessor(db, org_id, key_id)]);
    if (!row) throw keyNotFound(key_id);
    return c.json({ data: presentKey(row, Date.now(), successor?.id ?? null) }, 200);
  });

}
