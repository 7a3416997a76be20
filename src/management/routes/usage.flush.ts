import { createRoute, z } from "@hono/zod-openapi";
import { appliedWithin } from "../../store/usage";
import { requireOperator } from "../authorize";
import type { ManagementApp } from "../context";
import { errorResponses, int32, jsonResponse, security } from "../schemas";

const flushUsageRoute = createRoute({
  operationId: "flushUsage",
  method: "post",
  path: "/usage/flush",
  tags: ["usage"],
  summary: "Send this isolate's buffered usage now and wait until it is stored (operator only)",
  description:
    "Usage is aggregated per gateway isolate for USAGE_FLUSH_INTERVAL_MS before it goes through the queue. This sends what the isolate serving this request holds and waits (at most 10 s) until the queue consumer has stored it. `npm start` calls it before stopping, so stopping loses nothing; in production it only drains the one isolate that serves it (harmless, rarely useful).",
  security,
  responses: {
    200: jsonResponse(
      z.object({
        data: z
          .object({
            messages: int32(0, 1_000).openapi({ description: "Queue messages this isolate sent in the last minute, this drain's included" }),
            stored: z.boolean().openapi({ description: "Whether the consumer stored all of them within 10 s" }),
          })
          .openapi("UsageFlush"),
      }),
      "What was sent, and whether it is stored",
    ),
    ...errorResponses(401, 403),
  },
});

/** How long the drain waits for the consumer (the queue's batch timeout is 2 s). */
const FLUSH_WAIT_MS = 10_000;

export function registerFlushUsage(app: ManagementApp): void {
  app.openapi(flushUsageRoute, async (c) => {
    requireOperator(c.get("caller"));
    const ids = await c.get("services").usage.flush();
    const stored = ids.length === 0 || (await appliedWithin(c.env.DB, ids, FLUSH_WAIT_MS));
    return c.json({ data: { messages: ids.length, stored } }, 200);
  });

}
