import { DurableObject } from "cloudflare:workers";
import type { Env } from "../env";

export class RateLimiterObject extends DurableObject<Env> {}
