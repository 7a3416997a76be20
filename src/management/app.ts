import { OpenAPIHono } from "@hono/zod-openapi";
import type { Env } from "../env";
import { renderError } from "../errors";

export const MANAGEMENT_PREFIX = "/_keygate";

export const managementApp = new OpenAPIHono<{ Bindings: Env }>().basePath(`${MANAGEMENT_PREFIX}/v1`);

managementApp.get("/health", (c) => c.json({ data: { status: "ok" } }));

managementApp.onError((err, c) => renderError(err, c));
