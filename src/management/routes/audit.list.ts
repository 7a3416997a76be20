import { createRoute, z } from "@hono/zod-openapi";
import { AUDIT_ACTIONS, type AuditAction, listAudit } from "../../store/audit";
import { findOrg } from "../../store/orgs";
import { authorizeOrg, orgNotFound } from "../authorize";
import type { ManagementApp } from "../context";
import { AuditEventSchema, presentAuditEvent } from "../representations";
import { errorResponses, ID_PATTERN, isoInstant, jsonResponse, OrgIdParam, pageOf, pageQuery, security, timeFilter } from "../schemas";

const ACTION_LIST = new RegExp(`^(${AUDIT_ACTIONS.map((a) => a.replace(".", "\\.")).join("|")})(,(${AUDIT_ACTIONS.map((a) => a.replace(".", "\\.")).join("|")}))*$`);

const ListAuditQuery = z.object({
  ...pageQuery,
  action: z
    .string()
    .max(500)
    .regex(ACTION_LIST, `must be a comma-separated list of ${AUDIT_ACTIONS.join(", ")}`)
    .optional()
    .openapi({ description: `One or more of ${AUDIT_ACTIONS.join(", ")}, comma-separated`, example: "key.revoked" }),
  key_id: z.string().min(1).max(64).regex(ID_PATTERN, "is not an id").optional(),
  since: isoInstant.optional().openapi({ description: "Events at or after this date/time" }),
  until: isoInstant.optional().openapi({ description: "Events at or before this date/time (a bare date includes that whole day, UTC)" }),
});

const listAuditRoute = createRoute({
  operationId: "listAudit",
  method: "get",
  path: "/orgs/{org_id}/audit",
  tags: ["audit"],
  summary: "The org's audit trail, newest first (needs audit:read)",
  description: "Management actions, one row each; auth.failed rows aggregate many failures per source and reason (see count, last_seen_at).",
  security,
  request: { params: OrgIdParam, query: ListAuditQuery },
  responses: { 200: jsonResponse(pageOf(AuditEventSchema), "A page of audit events"), ...errorResponses(400, 401, 403, 404) },
});

export function registerListAudit(app: ManagementApp): void {
  app.openapi(listAuditRoute, async (c) => {
    const { org_id } = c.req.valid("param");
    authorizeOrg(c.get("caller"), org_id, "audit:read");
    const query = c.req.valid("query");
    const { db } = c.get("services");
    if (!(await findOrg(db, org_id))) throw orgNotFound(org_id);
    const filters = {
      actions: query.action?.split(",") as AuditAction[] | undefined,
      keyId: query.key_id,
      ...timeFilter(query),
    };
    const { rows, total } = await listAudit(db, org_id, filters, { page: query.page, perPage: query.per_page });
    return c.json({ data: rows.map(presentAuditEvent), pagination: { page: query.page, per_page: query.per_page, total } }, 200);
  });
}
