import { OpenAPIHono } from "@hono/zod-openapi";
import { HTTPException } from "hono/http-exception";
import { KeygateError, renderError } from "../errors";
import { registerSecretScanningRoutes } from "../leaks/route";
import { registerAuditRoutes } from "./audit";
import { registerAuthFailureRoutes } from "./auth_failures";
import { managementAuth } from "./auth";
import { jsonBody } from "./body";
import { managementRateLimit } from "./rate_limit";
import type { ManagementEnv } from "./context";
import { registerDocs } from "./docs";
import { registerKeyLifecycleRoutes } from "./key_lifecycle";
import { registerKeyLimitRoutes } from "./key_limits";
import { registerKeyRoutes } from "./keys";
import { registerOrgRoutes } from "./orgs";
import { registerScopeRoutes } from "./scopes";
import { registerUsageRoutes } from "./usage";
import { validationHook } from "./validation";
import { registerWhoamiRoute } from "./whoami";

export const MANAGEMENT_PREFIX = "/_keygate";
const BASE_PATH = `${MANAGEMENT_PREFIX}/v1`;

/** SPEC §5: bodies over 64 KiB answer 413. */
export const MAX_BODY_BYTES = 64 * 1024;

export const managementApp = new OpenAPIHono<ManagementEnv>({ defaultHook: validationHook }).basePath(BASE_PATH);

// Everything under /orgs is authenticated and takes JSON bodies only. Routes registered later
// under /orgs (e.g. the usage route) get both, and find the caller in `c.get("caller")`.
// Each credential is rate limited (SPEC §9) before its body is even read.
for (const path of ["/orgs", "/orgs/*", "/usage/*"]) managementApp.use(path, managementAuth(), managementRateLimit(), jsonBody({ maxBytes: MAX_BODY_BYTES }));
managementApp.use("/whoami", managementAuth(), managementRateLimit());
for (const path of ["/scopes", "/auth-failures"]) managementApp.use(path, managementAuth(), managementRateLimit());

registerDocs(managementApp, BASE_PATH);
registerOrgRoutes(managementApp);
registerKeyRoutes(managementApp);
registerKeyLifecycleRoutes(managementApp);
registerKeyLimitRoutes(managementApp);
registerAuditRoutes(managementApp);
registerUsageRoutes(managementApp);
registerSecretScanningRoutes(managementApp);
registerWhoamiRoute(managementApp);
registerScopeRoutes(managementApp);
registerAuthFailureRoutes(managementApp);

/** Methods registered for a path, from the router's own table (middleware entries are "ALL"). */
function allowedMethods(path: string): string[] {
  const methods = new Set<string>();
  for (const route of managementApp.routes) {
    if (route.method === "ALL") continue;
    const segments = route.path.split("/").map((part) => (part.startsWith(":") ? "[^/]+" : part.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")));
    const pattern = new RegExp(`^${segments.join("/")}$`);
    if (pattern.test(path)) methods.add(route.method);
  }
  return [...methods];
}

managementApp.notFound((c) => {
  const allowed = allowedMethods(c.req.path);
  if (allowed.length > 0) {
    return renderError(new KeygateError("method_not_allowed", `${c.req.method} is not allowed here; use ${allowed.join(", ")}`, { headers: { Allow: allowed.join(", ") } }), c);
  }
  return renderError(new KeygateError("not_found", `no management route ${c.req.method} ${c.req.path}`), c);
});

/** Hono and the zod-openapi media-type gate throw HTTPExceptions; give them our codes. */
function ownError(err: Error): Error {
  if (!(err instanceof HTTPException)) return err;
  if (err.status === 415) return new KeygateError("unsupported_media_type", "request bodies must be JSON: send 'Content-Type: application/json'");
  if (err.status === 400 && /json/i.test(err.message)) return new KeygateError("invalid_json", "the request body is not valid JSON");
  return err;
}

managementApp.onError((err, c) => renderError(ownError(err), c));
