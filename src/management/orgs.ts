import { z } from "@hono/zod-openapi";
import type { Config } from "../config";
import { displayName, int32 } from "./schemas";
import { invalidField } from "./validation";

// What the org routes (routes/orgs.*.ts) share: the body fields and the tier check.

export const OrgName = displayName(100, "Acme Corp");
export const Tier = z.string().min(1).max(32).openapi({ description: "One of the tiers in the TIERS config", example: "free" });
export const MaxActiveKeys = int32(1, 10_000).openapi({ description: "Active-key limit for the org (default 25)" });

export function assertTier(config: Config, value: string): void {
  if (!Object.hasOwn(config.tiers, value)) throw invalidField("tier", `must be one of: ${Object.keys(config.tiers).join(", ")}`);
}
