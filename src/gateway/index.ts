import type { Env } from "../env";
import { errorResponse, KeygateError } from "../errors";

export async function handleGatewayRequest(_request: Request, _env: Env, _ctx: ExecutionContext, _url: URL): Promise<Response> {
  return errorResponse(new KeygateError("no_route", "no route matches this request"));
}
