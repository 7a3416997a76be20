import type { Env } from "./env";
import { consoleApp } from "./console/app";
import { CONSOLE_PREFIX } from "./console/layout";
import { handleGatewayRequest } from "./gateway";
import { withCors } from "./gateway/cors";
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
  return withCors(request, env, url, () => handleGatewayRequest(request, env, ctx, url));
}
