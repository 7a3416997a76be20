import { OpenAPIHono } from "@hono/zod-openapi";
import type { MiddlewareHandler } from "hono";
import { secureHeaders } from "hono/secure-headers";
import { KeygateError, renderError } from "../errors";
import { registerSecretScanningRoutes } from "../leaks/route";
import { managementAuth } from "./auth";
import { jsonBody, noBodyOnRead, noKeyInUrl } from "./body";
import type { ManagementApp, ManagementEnv } from "./context";
import { registerDocs } from "./docs";
import { managementRateLimit } from "./rate_limit";
import { registerListAudit } from "./routes/audit.list";
import { registerListAuthFailures } from "./routes/auth_failures.list";
import { registerHealth } from "./routes/health";
import { registerCreateKey } from "./routes/keys.create";
import { registerGetKey } from "./routes/keys.get";
import { registerGetKeyLimits } from "./routes/keys.limits";
import { registerListKeys } from "./routes/keys.list";
import { registerRevokeKey } from "./routes/keys.revoke";
import { registerRotateKey } from "./routes/keys.rotate";
import { registerUpdateKey } from "./routes/keys.update";
import { registerCreateOrg } from "./routes/orgs.create";
import { registerGetOrg } from "./routes/orgs.get";
import { registerListOrgs } from "./routes/orgs.list";
import { registerUpdateOrg } from "./routes/orgs.update";
import { registerListScopes } from "./routes/scopes.list";
import { registerFlushUsage } from "./routes/usage.flush";
import { registerKeyUsage } from "./routes/usage.key";
import { registerOrgUsage } from "./routes/usage.org";
import { registerWhoami } from "./routes/whoami";
import { initServices } from "./services";
import { clip, validationHook, withoutKeys } from "./validation";

export const MANAGEMENT_PREFIX = "/_keygate";
const BASE_PATH = `${MANAGEMENT_PREFIX}/v1`;

/** SPEC §5: bodies over 64 KiB answer 413. */
export const MAX_BODY_BYTES = 64 * 1024;

export const managementApp = new OpenAPIHono<ManagementEnv>({ defaultHook: validationHook }).basePath(BASE_PATH);

/**
 * Every answer (errors, 404s and 405s included) is JSON holding tenant data, and on create and rotate a
 * key: no cache may store it (`Cache-Control: no-store`, unless a route chose its own, like the docs'
 * pinned bundle), and Hono's secure headers (`X-Content-Type-Options: nosniff` first of all, so a browser
 * never sniffs a JSON body into a page) as the docs page has them.
 */
const noStore: MiddlewareHandler = async (c, next) => {
  await next();
  if (!c.res.headers.has("cache-control")) c.res.headers.set("cache-control", "no-store");
};

// Every route, before anything reads the request: the response headers above, and a GET or HEAD
// carries no body (SPEC §9).
managementApp.use("*", secureHeaders(), noStore, noBodyOnRead());

// Every authenticated route: services first (config, database, caches), then a URL holding an API key refused,
// then who is calling, then that credential's rate limit (SPEC §9), all before a body is read. Everything under /orgs and
// /usage takes JSON bodies of at most 64 KiB only. /health and the docs need none of it.
const authenticated = [initServices(), noKeyInUrl(), managementAuth(), managementRateLimit()];
for (const path of ["/orgs", "/orgs/*", "/usage/*"]) managementApp.use(path, ...authenticated, jsonBody({ maxBytes: MAX_BODY_BYTES }));
for (const path of ["/whoami", "/scopes", "/auth-failures"]) managementApp.use(path, ...authenticated);

/**
 * Every route: each operation in its own file under routes/ (`createRoute` + handler + its own
 * schemas), the docs, and GitHub's secret-scanning endpoint. This order is the order of the OpenAPI
 * document's paths.
 */
const ROUTES: ((app: ManagementApp) => void)[] = [
  registerHealth,
  (app) => registerDocs(app, BASE_PATH),
  registerCreateOrg,
  registerListOrgs,
  registerGetOrg,
  registerUpdateOrg,
  registerCreateKey,
  registerListKeys,
  registerGetKey,
  registerUpdateKey,
  registerRevokeKey,
  registerRotateKey,
  registerGetKeyLimits,
  registerListAudit,
  registerFlushUsage,
  registerKeyUsage,
  registerOrgUsage,
  registerSecretScanningRoutes,
  registerWhoami,
  registerListScopes,
  registerListAuthFailures,
];
for (const register of ROUTES) register(managementApp);

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
  // The path is the client's: cut, so the message stays within the envelope's 2000 characters, and any key in it
  // shown as its identifier (a key pasted into a URL must not come back whole in the answer, SPEC §9).
  return renderError(new KeygateError("not_found", `no management route ${c.req.method} ${clip(withoutKeys(c.req.path), 200)}`), c);
});


// src/errors.ts's renderError is the one place an exception becomes an error code (Hono's own included).
managementApp.onError((err, c) => renderError(err, c));
