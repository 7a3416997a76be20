import { z } from "zod";
import { durationSchema as duration, parseDuration } from "./duration";
import { displayField, KeygateError, logMisconfigured } from "./errors";
import { corsConfigSchema } from "./gateway/cors_config";
import { routePatternProblem } from "./gateway/route_pattern";
import type { ExpiryPolicy } from "./hygiene/expiry_policy";
import { tierSchema } from "./ratelimit/tiers";

export { displayField };

/** The scope that grants every other scope (src/auth/scopes.ts). */
export const ADMIN_SCOPE = "admin";

/** Scopes every deployment has: they guard the management API itself. */
export const BUILTIN_SCOPES = {
  [ADMIN_SCOPE]: "Every scope, including every management action on the key's own org",
  "keys:read": "List and read the org's keys and their usage",
  "keys:write": "Create, update, revoke and rotate the org's keys",
  "audit:read": "Read the org's audit trail",
} as const;

/**
 * SPEC §2 gives `^[a-z][a-z0-9]{1,15}_$` but also `mayo_ak_` as an example operators use; that
 * example needs inner underscores, so single inner underscores are allowed (never doubled, never
 * leading). Length stays 3-17 characters, as in SPEC's pattern.
 */
export const KEY_PREFIX_PATTERN = /^[a-z][a-z0-9]*(?:_[a-z0-9]+)*_$/;
export const KEY_PREFIX_RULE = "must be 3-17 characters: a lowercase letter, then lowercase letters, digits or single underscores, ending in _ (e.g. kg_, mayo_ak_)";
// No "*" in catalogue names: `demo:*` is a grant over the catalogue (src/auth/scopes.ts), not an entry in it.
const SCOPE_NAME = /^[a-z][a-z0-9_.-]*(:[a-z0-9_.-]+)*$/;
const TIER_NAME = /^[a-z][a-z0-9_-]{0,31}$/;
const METHODS = ["*", "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"] as const;

/** `[vars]` may hold TOML tables/arrays (objects) or JSON text (from `--var` or the dashboard). */
const jsonValue = <T extends z.ZodType>(schema: T) =>
  z.preprocess((value, ctx) => {
    if (typeof value !== "string") return value;
    try {
      return JSON.parse(value);
    } catch (err) {
      ctx.addIssue({ code: "custom", message: `is not valid JSON${jsonErrorPosition(value, err)}` });
      return z.NEVER;
    }
  }, schema);

/** Where JSON.parse gave up, as "(line L, column C)"; never the text itself (it may be long, or hold more than it should). */
function jsonErrorPosition(text: string, err: unknown): string {
  const message = err instanceof Error ? err.message : "";
  const lineColumn = /line (\d+) column (\d+)/.exec(message);
  if (lineColumn) return ` (line ${lineColumn[1]}, column ${lineColumn[2]})`;
  const position = /position (\d+)/.exec(message);
  const offset = position ? Number(position[1]) : /end of JSON/i.test(message) ? text.length : undefined;
  if (offset === undefined) return "";
  const before = text.slice(0, offset).split("\n");
  return ` (line ${before.length}, column ${before.at(-1)!.length + 1})`;
}

const DAY_MS = 86_400_000;

const route = z.strictObject({
  method: z.union([z.enum(METHODS), z.array(z.enum(METHODS)).min(1)]).default("*"),
  path: z.string().startsWith("/", "must start with /"),
  scopes: z.array(z.string()).default([]),
  tiers: z.array(z.string()).min(1).optional(),
  /** Units the request counts against every window and the quota (SPEC §7). */
  cost: z.number().int().min(1).max(1_000_000).default(1),
});

/** GitHub's public keys for secret scanning partner payloads (SPEC §10). */
export const GITHUB_KEYS_URL = "https://api.github.com/meta/public_keys/secret_scanning";
/** Standard Webhooks secrets: `whsec_` and base64 of 24-64 random bytes (32-88 base64 characters). */
const WEBHOOK_SECRET_PATTERN = /^whsec_[A-Za-z0-9+/]{32,86}={0,2}$/;
const WEBHOOK_SECRET_RULE = "must be whsec_ followed by the base64 of 24 to 64 random bytes (e.g. whsec_$(openssl rand -base64 32))";
/** A count per window: "600/60s", "20/1m", or a bare number meaning per 60 s. */
const countPerWindow = (fallback: string) =>
  z
    .union([z.string(), z.number()])
    .default(fallback)
    .transform((value, ctx) => {
      const [count, window = "60s"] = String(value).split("/");
      const limit = Number(count);
      const windowMs = parseDuration(window.trim());
      if (!Number.isSafeInteger(limit) || limit < 1 || windowMs === null || windowMs < 1_000) {
        ctx.addIssue({ code: "custom", message: `"${value}" is not a limit like "600/60s" (a positive count per a window of at least 1s)` });
        return z.NEVER;
      }
      return { limit, windowMs };
    });

export type CountPerWindow = z.output<ReturnType<typeof countPerWindow>>;

const intFromVar = (fallback: number) => z.coerce.number().int().positive().default(fallback);

/** `true`/`false` as TOML booleans or as text (`--var`, the dashboard). */
const booleanVar = z.union([z.boolean(), z.enum(["true", "false"]).transform((text) => text === "true")]);

/** A duration of at least a day (key lifetimes and ages are counted in days), or `off`. */
const days = (allowOff: boolean) =>
  z.union([z.string(), z.number()]).transform((value, ctx) => {
    if (allowOff && value === "off") return null;
    const ms = parseDuration(value);
    if (ms === null || ms < DAY_MS) {
      ctx.addIssue({ code: "custom", message: `"${value}" is not a duration of at least a day, like "90d" or "1y"${allowOff ? ', or "off"' : ""}` });
      return z.NEVER;
    }
    return ms;
  });

const configSchema = z
  .object({
    ORIGIN_URL: z.url({ protocol: /^https?$/ }).default("http://127.0.0.1:8788"),
    KEY_PREFIX: z.string().refine((p) => p.length >= 3 && p.length <= 17 && KEY_PREFIX_PATTERN.test(p), KEY_PREFIX_RULE).default("kg_"),
    ORIGIN_TIMEOUT_MS: intFromVar(10_000),
    RATE_LIMIT_BACKEND: z.enum(["durable-object", "upstash"]).optional(),
    RATE_LIMIT_FAILURE_MODE: z.enum(["open", "closed"]).default("closed"),
    SCOPES: jsonValue(z.record(z.string().regex(SCOPE_NAME, "is not a valid scope name"), z.string())).default({}),
    TIERS: jsonValue(z.record(z.string().regex(TIER_NAME, "is not a valid tier name"), tierSchema)),
    ROUTES: jsonValue(z.array(route)).default([]),
    CORS: jsonValue(corsConfigSchema).optional(),
    MEMORY_CACHE_TTL_MS: intFromVar(5_000),
    NEGATIVE_CACHE_TTL_MS: intFromVar(30_000),
    REQUIRE_KEY_EXPIRY: booleanVar.default(false),
    MAX_KEY_LIFETIME: days(false).optional(),
    ROTATION_REMINDER_AFTER: days(true).default(90 * DAY_MS),
    // Buffered per signed request to hash it: bounded so a Worker's 128 MB holds many at once.
    SIGNED_BODY_MAX_BYTES: z.coerce.number().int().min(0).max(16 * 1024 * 1024, "must be at most 16777216 (16 MiB)").default(1024 * 1024),
    // SPEC §8: how long an isolate aggregates usage before sending it; bounded by waitUntil's 30 s after a response.
    USAGE_FLUSH_INTERVAL_MS: z.coerce.number().int().min(10, "must be at least 10").max(20_000, "must be at most 20000 (waitUntil runs at most 30 s after a response)").default(10_000),
    USAGE_MINUTE_RETENTION: duration.default(48 * 3_600_000),
    USAGE_HOUR_RETENTION: duration.default(400 * 86_400_000),
    AUTH_FAILURE_RETENTION: duration.default(90 * 86_400_000),
    // SPEC §9: per-source failed authentications, and per-credential management calls.
    AUTH_FAILURE_LIMIT: countPerWindow("20/60s"),
    MANAGEMENT_RATE_LIMIT: countPerWindow("600/60s"),
    ADMIN_TOKEN: z.string().min(16, "must be at least 16 characters").optional(),
    UPSTASH_REDIS_REST_URL: z.url().optional(),
    UPSTASH_REDIS_REST_TOKEN: z.string().min(1).optional(),
    ORIGIN_SIGNING_SECRET: z.string().min(16, "must be at least 16 characters").optional(),
    // SPEC §10: leak response and events.
    GITHUB_SECRET_SCANNING_KEYS_URL: z.url({ protocol: /^https?$/ }).default(GITHUB_KEYS_URL),
    LEAKED_KEY_ACTION: z.enum(["revoke", "notify"]).default("revoke"),
    WEBHOOK_URL: z.url({ protocol: /^https?$/ }).optional(),
    WEBHOOK_SECRET: z.string().regex(WEBHOOK_SECRET_PATTERN, WEBHOOK_SECRET_RULE).optional(),
    // The console's session cookie is encrypted with a key derived from this (or, without it, from ADMIN_TOKEN).
    CONSOLE_SESSION_SECRET: z.string().min(32, "must be at least 32 characters").optional(),
    CONSOLE_SESSION_TTL: duration.refine((ms) => ms >= 60_000 && ms <= 7 * 86_400_000, "must be between 1m and 7d").default(8 * 3_600_000),
  })
  .superRefine((raw, ctx) => {
    const scopes = new Set([...Object.keys(BUILTIN_SCOPES), ...Object.keys(raw.SCOPES)]);
    const tiers = new Set(Object.keys(raw.TIERS));
    if (tiers.size === 0) ctx.addIssue({ code: "custom", path: ["TIERS"], message: "needs at least one tier" });
    raw.ROUTES.forEach((rule, i) => {
      const pathProblem = routePatternProblem(rule.path);
      if (pathProblem) ctx.addIssue({ code: "custom", path: ["ROUTES", i, "path"], message: pathProblem });
      rule.scopes.forEach((scope, j) => {
        if (!scopes.has(scope)) ctx.addIssue({ code: "custom", path: ["ROUTES", i, "scopes", j], message: `scope "${scope}" is not in SCOPES` });
      });
      rule.tiers?.forEach((name, j) => {
        if (!tiers.has(name)) ctx.addIssue({ code: "custom", path: ["ROUTES", i, "tiers", j], message: `tier "${name}" is not in TIERS` });
      });
      for (const name of rule.tiers ?? tiers) {
        // The superRefine also runs when a tier itself failed to parse: only whole tiers are compared.
        const tier = Object.hasOwn(raw.TIERS, name) ? raw.TIERS[name] : undefined;
        const smallest = Array.isArray(tier?.limits) ? Math.min(...tier.limits.map((l) => l.limit), tier.quota?.limit ?? Infinity) : undefined;
        if (smallest !== undefined && rule.cost > smallest) {
          ctx.addIssue({ code: "custom", path: ["ROUTES", i, "cost"], message: `${rule.cost} is more than tier "${name}" allows in a whole window or quota (${smallest}): every request would be refused` });
        }
      }
    });
    if (raw.WEBHOOK_URL && !raw.WEBHOOK_SECRET) ctx.addIssue({ code: "custom", path: ["WEBHOOK_SECRET"], message: "is required when WEBHOOK_URL is set" });
    if (raw.RATE_LIMIT_BACKEND === "upstash" && !(raw.UPSTASH_REDIS_REST_URL && raw.UPSTASH_REDIS_REST_TOKEN)) {
      ctx.addIssue({ code: "custom", path: ["UPSTASH_REDIS_REST_URL"], message: "is required when RATE_LIMIT_BACKEND is upstash (with UPSTASH_REDIS_REST_TOKEN)" });
    }
  })
  .transform((raw) => {
    const upstash = raw.UPSTASH_REDIS_REST_URL && raw.UPSTASH_REDIS_REST_TOKEN ? { url: raw.UPSTASH_REDIS_REST_URL, token: raw.UPSTASH_REDIS_REST_TOKEN } : undefined;
    const scopes: Record<string, string> = { ...BUILTIN_SCOPES, ...raw.SCOPES };
    const expiryPolicy: ExpiryPolicy = { required: raw.REQUIRE_KEY_EXPIRY, maxLifetimeMs: raw.MAX_KEY_LIFETIME ?? null };
    return {
      originUrl: new URL(raw.ORIGIN_URL),
      keyPrefix: raw.KEY_PREFIX,
      originTimeoutMs: raw.ORIGIN_TIMEOUT_MS,
      rateLimitBackend: raw.RATE_LIMIT_BACKEND ?? (upstash ? "upstash" : "durable-object"),
      rateLimitFailureMode: raw.RATE_LIMIT_FAILURE_MODE,
      /** Full catalogue: built-in management scopes plus the operator's SCOPES. */
      scopes,
      tiers: raw.TIERS,
      routes: raw.ROUTES,
      /** Browser origins that may call through the gateway; undefined: no CORS handling at all. */
      cors: raw.CORS,
      /** REQUIRE_KEY_EXPIRY and MAX_KEY_LIFETIME, applied when a key is created or rotated. */
      expiryPolicy,
      /** ROTATION_REMINDER_AFTER in ms: active keys older than this get a key.rotation_due reminder; null: off. */
      rotationReminderAfterMs: raw.ROTATION_REMINDER_AFTER,
      memoryCacheTtlMs: raw.MEMORY_CACHE_TTL_MS,
      negativeCacheTtlMs: raw.NEGATIVE_CACHE_TTL_MS,
      /** Bodies up to this many bytes are hashed into the origin signature; larger ones go unsigned. */
      signedBodyMaxBytes: raw.SIGNED_BODY_MAX_BYTES,
      /** How long an isolate aggregates usage before it sends it through the queue. */
      usageFlushIntervalMs: raw.USAGE_FLUSH_INTERVAL_MS,
      usageMinuteRetentionMs: raw.USAGE_MINUTE_RETENTION,
      usageHourRetentionMs: raw.USAGE_HOUR_RETENTION,
      authFailureRetentionMs: raw.AUTH_FAILURE_RETENTION,
      /** Failed authentications a source (client IP) may make per window before it is refused 429. */
      authFailureLimit: raw.AUTH_FAILURE_LIMIT,
      /** Management API calls per credential (the operator token, or each org key) per window. */
      managementRateLimit: raw.MANAGEMENT_RATE_LIMIT,
      adminToken: raw.ADMIN_TOKEN,
      upstash,
      originSigningSecret: raw.ORIGIN_SIGNING_SECRET,
      /** Where the GitHub secret scanning public keys document is fetched from. */
      githubKeysUrl: raw.GITHUB_SECRET_SCANNING_KEYS_URL,
      /** What a report of a live key does: revoke it (default) or only record and announce the leak. */
      leakedKeyAction: raw.LEAKED_KEY_ACTION,
      /** Event webhooks (Standard Webhooks); absent when WEBHOOK_URL is unset. */
      webhook: raw.WEBHOOK_URL && raw.WEBHOOK_SECRET ? { url: raw.WEBHOOK_URL, secret: raw.WEBHOOK_SECRET } : undefined,
      /** The web console: what its session cookie is encrypted with (never the raw value) and how long a sign-in lasts. */
      console: { sessionSecret: raw.CONSOLE_SESSION_SECRET ?? raw.ADMIN_TOKEN, sessionTtlMs: raw.CONSOLE_SESSION_TTL },
    };
  });

/** The raw `[vars]` and secrets the schema reads, as wrangler may hand them over (src/env.ts's `Env` extends this). */
export type ConfigVars = Partial<z.input<typeof configSchema>>;
/** The gateway's configuration as inner code reads it: what `configSchema` makes of the raw `[vars]`. */
export type Config = z.output<typeof configSchema>;
export type RouteRule = z.output<typeof route>;

/** Parses raw vars; throws a `gateway_misconfigured` error that names the first bad field. */
export function parseConfig(vars: Record<string, unknown>): Config {
  const parsed = configSchema.safeParse(vars);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const field = displayField(issue.path.map(String).join(".") || "config");
    throw new KeygateError("gateway_misconfigured", `gateway configuration is invalid: ${field} ${issue.message}`, {
      details: parsed.error.issues.map((i) => ({ field: i.path.map(String).join(".") || "config", message: i.message })),
    });
  }
  return parsed.data;
}

// Validated once per isolate: the env object is stable for an isolate's lifetime.
const parsedConfigs = new WeakMap<object, Config | KeygateError>();

/**
 * The isolate's config from the worker's env (src/env.ts's `Env`; only its raw vars are read here).
 * Typed as any object so that config.ts, at the bottom of the layers, imports nothing above it.
 */
export function loadConfig(env: object): Config {
  let result = parsedConfigs.get(env);
  if (!result) {
    try {
      result = parseConfig(env as Record<string, unknown>);
    } catch (err) {
      if (!(err instanceof KeygateError)) throw err;
      // Logged (with every bad field) when first rendered: errors.ts logMisconfigured.
      result = err;
    }
    parsedConfigs.set(env, result);
  }
  if (result instanceof KeygateError) throw result;
  return result;
}

/** For /health: whether this isolate's config parses. The reasons go to the log, never to the caller. */
export function configStatus(env: object): "valid" | "invalid" {
  try {
    loadConfig(env);
    return "valid";
  } catch (err) {
    if (err instanceof KeygateError && err.code === "gateway_misconfigured") {
      logMisconfigured(err);
      return "invalid";
    }
    throw err;
  }
}
