import { createRoute, z } from "@hono/zod-openapi";
import { parseDuration } from "../../duration";
import { KEY_STATUSES, type KeyStatus, listKeys } from "../../store/keys";
import { findOrg } from "../../store/orgs";
import { authorizeOrg, orgNotFound } from "../authorize";
import type { ManagementApp } from "../context";
import { durationText } from "../keys";
import { KeySchema, presentKey } from "../representations";
import { errorResponses, instant, isoInstant, jsonResponse, nameFilter, OrgIdParam, pageOf, pageQuery, parseSort, security, sortQuery } from "../schemas";

const DAY_MS = 86_400_000;

const STATUS_NAMES = KEY_STATUSES.join("|");
const STATUS_LIST = new RegExp(`^(${STATUS_NAMES})(,(${STATUS_NAMES}))*$`);

const ListKeysQuery = z.object({
  ...pageQuery,
  sort: sortQuery(["created_at", "-created_at", "last_used_at", "-last_used_at", "expires_at", "-expires_at", "name", "-name"], "-created_at"),
  status: z
    .string()
    .max(100)
    .regex(STATUS_LIST, `must be a comma-separated list of ${KEY_STATUSES.join(", ")}`)
    .optional()
    .openapi({ description: `${KEY_STATUSES.join(", ")}; several comma-separated`, example: "active" }),
  name: nameFilter.optional(),
  unused_since: isoInstant.optional().openapi({ description: "Keys never used, or last used before this date/time" }),
  older_than: durationText(DAY_MS, 100 * 365 * DAY_MS, "90d").optional().openapi({ description: 'Keys at least this old (age_days), e.g. "90d": the ones due for rotation' }),
});

const listKeysRoute = createRoute({
  operationId: "listKeys",
  method: "get",
  path: "/orgs/{org_id}/keys",
  tags: ["keys"],
  summary: "List keys (needs keys:read)",
  description: "Paged (page, per_page up to 100); filters status, name, unused_since; never the key itself.",
  security,
  request: { params: OrgIdParam, query: ListKeysQuery },
  responses: { 200: jsonResponse(pageOf(KeySchema), "A page of keys"), ...errorResponses(400, 401, 403, 404) },
});

export function registerListKeys(app: ManagementApp): void {
  app.openapi(listKeysRoute, async (c) => {
    const { org_id } = c.req.valid("param");
    authorizeOrg(c.get("caller"), org_id, "keys:read");
    const query = c.req.valid("query");
    const { db } = c.get("services");
    if (!(await findOrg(db, org_id))) throw orgNotFound(org_id);
    const now = Date.now();
    const filters = {
      statuses: query.status?.split(",") as KeyStatus[] | undefined,
      name: query.name,
      unusedSince: query.unused_since === undefined ? undefined : instant(query.unused_since),
      createdBefore: query.older_than === undefined ? undefined : now - parseDuration(query.older_than)!,
    };
    const { rows, total } = await listKeys(db, org_id, filters, parseSort(query.sort), { page: query.page, perPage: query.per_page }, now);
    return c.json({ data: rows.map((row) => presentKey(row, now, row.rotatedTo)), pagination: { page: query.page, per_page: query.per_page, total } }, 200);
  });

}
