import type { Env } from "./env";
import { consoleApp } from "./console/app";
import { CONSOLE_PREFIX } from "./console/layout";
import { handleGatewayRequest } from "./gateway";
import { withCors } from "./gateway/cors";
import { renderError } from "./errors";
import { type Runtime, runtimeFor } from "./isolate";
import { managementApp, MANAGEMENT_PREFIX } from "./management/app";

/**
 * The management API lives under one reserved prefix; everything else is the gateway hot path.
 * The split happens before Hono so the hot path pays for no router it does not use.
 */
export function handleRequest(request: Request, env: Env, ctx: ExecutionContext): Promise<Response> | Response {
  const url = new URL(request.url);
  if (url.pathname === CONSOLE_PREFIX || url.pathname.startsWith(CONSOLE_PREFIX + "/")) return consoleApp.fetch(request, env, ctx);
  if (url.pathname === MANAGEMENT_PREFIX || url.pathname.startsWith(MANAGEMENT_PREFIX + "/")) {
    return managementApp.fetch(request, env, ctx);
  }
  let runtime: Runtime;
  try {
    runtime = runtimeFor(env);
  } catch (err) {
    return renderError(err); // gateway_misconfigured
  }
  return withCors(request, runtime.cors, runtime.routes, url, () => handleGatewayRequest(request, runtime, ctx, url));
}
