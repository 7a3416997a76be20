import { html } from "hono/html";
import { secureHeaders } from "hono/secure-headers";
import type { ManagementApp } from "./context";

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

const TAGS = [
  { name: "orgs", description: "Tenants (operator only, except reading one's own org)" },
  { name: "keys", description: "An org's API keys: create, list, read, change, revoke, rotate, usage" },
  { name: "audit", description: "An org's audit trail, and (operator only) failed authentications no org owns" },
  { name: "scopes", description: "The scope catalogue keys are granted from" },
  { name: "usage", description: "Draining the usage a gateway isolate still buffers (operator only); usage itself is read per key and per org" },
  { name: "meta", description: "Liveness, and who a credential is" },
  { name: "secret-scanning", description: "GitHub's secret scanning partner endpoint: signed by GitHub, no keygate credential" },
];

/** The OpenAPI 3.1 document generated from the route schemas, and the interactive docs. No auth. */
export function registerDocs(app: ManagementApp, basePath: string): void {
  app.openAPIRegistry.registerComponent("securitySchemes", "bearer", {
    type: "http",
    scheme: "bearer",
    description: "The operator token (ADMIN_TOKEN) or an org API key",
  });
  app.doc31("/openapi.json", (c) => ({
    openapi: "3.1.0",
    info: { title: "keygate management API", version: "1.0.0", description: DESCRIPTION, contact: { name: "The operator of this gateway" } },
    // The deployment that served this document, whichever environment it is.
    servers: [{ url: new URL(c.req.url).origin, description: "This gateway (the production, staging or local deployment that served this document)", "x-internal": false }],
    security: [{ bearer: [] }],
    tags: TAGS,
  }));

  registerDocsPage(app, basePath);
}

// Content-addressed by the pinned version: a new bundle gets a new URL, so it can be cached for good.
const SCALAR_VERSION = "1.76.0";

/**
 * Scalar's standalone bundle and our two-line start script, both from this worker: no CDN, and a CSP
 * that forbids every other host. Scalar injects its own <style> and inline style attributes, hence
 * 'unsafe-inline' for styles only; scripts stay 'self'.
 */
function registerDocsPage(app: ManagementApp, basePath: string): void {
  const docsHeaders = secureHeaders({
    contentSecurityPolicy: {
      defaultSrc: ["'self'"],
      scriptSrc: ["'self'"],
      styleSrc: ["'self'", "'unsafe-inline'"],
      imgSrc: ["'self'", "data:"],
      fontSrc: ["'self'", "data:"],
      connectSrc: ["'self'"],
      baseUri: ["'none'"],
      frameAncestors: ["'none'"],
    },
  });
  app.use("/docs", docsHeaders);
  app.get(`/docs/scalar-${SCALAR_VERSION}.js`, async (c) => {
    // The API reference's browser bundle, pinned in package.json, as text (wrangler.toml's [[rules]]). Imported
    // when asked for, so programs that load this module outside the worker (tsx, for the OpenAPI checks) never read it.
    const { default: bundle } = await import("../../node_modules/@scalar/api-reference/dist/browser/standalone.js");
    return c.body(bundle, 200, { "content-type": "text/javascript; charset=utf-8", "cache-control": "public, max-age=31536000, immutable" });
  });
  app.get("/docs/init.js", (c) => {
    // Nothing that needs Scalar's hosted services (fonts, AI agent, developer toolbar, telemetry): the CSP would refuse them anyway.
    const config = { url: `${basePath}/openapi.json`, withDefaultFonts: false, hideClientButton: true, telemetry: false, showDeveloperTools: "never", agent: { disabled: true } };
    return c.body(`Scalar.createApiReference("#app", ${JSON.stringify(config)});\n`, 200, { "content-type": "text/javascript; charset=utf-8", "cache-control": "no-cache" });
  });
  app.get("/docs", (c) =>
    c.html(html`<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8" />
    <meta name="viewport" content="width=device-width, initial-scale=1" />
    <title>keygate management API</title>
  </head>
  <body>
    <noscript>
      <p>The interactive reference needs JavaScript. The API is described by its <a href="${basePath}/openapi.json">OpenAPI document (openapi.json)</a>.</p>
    </noscript>
    <div id="app"></div>
    <script src="${basePath}/docs/scalar-${SCALAR_VERSION}.js"></script>
    <script src="${basePath}/docs/init.js"></script>
  </body>
</html>`),
  );
}
