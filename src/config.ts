import { z } from "zod";
import { durationSchema as duration, parseDuration } from "./duration";
import { displayField, KeygateError, logMisconfigured } from "./errors";
import { corsConfigSchema } from "./gateway/cors_config";
import { routePatternProblem } from "./gateway/route_pattern";
import type { ExpiryPolicy } from "./hygiene/expiry_policy";
import { MAX_WINDOW_MS, tierSchema } from "./ratelimit/tiers";

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
  method: z.union([z.enum(METHODS), z.array(z.enum(METHODS)).min(1)], { error: `must be one of ${METHODS.map((m) => `"${m}"`).join(", ")} (uppercase), or a non-empty list of them` }).default("*"),
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
/** Text of decimal digits (blanks around allowed) as its number, anything else NaN: never Number()'s "" -> 0, "1e3" or "0x10". */
function decimalDigits(text: string): number {
  return /^\s*\d+\s*$/.test(text) ? Number(text) : Number.NaN;
}

const countPerWindow = (fallback: string) =>
  z
    .union([z.string(), z.number()])
    .default(fallback)
    .transform((value, ctx) => {
      const parts = String(value).split("/");
      const [count = "", window = "60s"] = parts;
      const limit = decimalDigits(count);
      const windowMs = parseDuration(window.trim());
      // Exactly "count" or "count/window": "20/60s/5" is a typo, not 20 per 60 s.
      if (parts.length > 2 || !Number.isSafeInteger(limit) || limit < 1 || windowMs === null || windowMs < 1_000 || windowMs > MAX_WINDOW_MS) {
        ctx.addIssue({ code: "custom", message: `"${value}" is not a limit like "600/60s" (a positive count per a window from 1s to 31d)` });
        return z.NEVER;
      }
      return { limit, windowMs };
    });

export type CountPerWindow = z.output<ReturnType<typeof countPerWindow>>;

/**
 * A whole number as a TOML integer or as decimal digits in text (`--var`, the dashboard, .dev.vars), within
 * [min, max]. Not `z.coerce.number()`: that reads "", " " and false as 0, true as 1, "1e3" as 1000 and
 * "0x10" as 16, so a typo became a different setting instead of an error naming the var.
 */
const wholeNumber = (min: number, max: number, unit: string) =>
  z.union([z.number(), z.string()], { error: `must be a whole number of ${unit} from ${min} to ${max}` }).transform((value, ctx) => {
    const n = typeof value === "number" ? value : decimalDigits(value);
    if (!Number.isSafeInteger(n) || n < min || n > max) {
      ctx.addIssue({ code: "custom", message: `${JSON.stringify(value)} is not a whole number of ${unit} from ${min} to ${max}` });
      return z.NEVER;
    }
    return n;
  });

/** setTimeout's ceiling: a longer delay overflows and fires at once, so every origin call would time out. */
const MAX_TIMER_MS = 2_147_483_647;
/** A cache TTL is the revocation bound in other isolates (README "Key lookup"): at most 10 minutes. */
const MAX_CACHE_TTL_MS = 600_000;
const intFromVar = (fallback: number, max: number) => wholeNumber(1, max, "milliseconds").default(fallback);

/** `true`/`false` as TOML booleans or as text (`--var`, the dashboard). */
const booleanVar = z.union([z.boolean(), z.enum(["true", "false"]).transform((text) => text === "true")], { error: 'must be true or false' });

/**
 * Secrets compared with what a client sends in a header (or a form): visible ASCII only. A token with a
 * space or a non-ASCII character can never be presented as `Authorization: Bearer <token>` (the parser
 * takes one run of non-space characters, and header values are bytes), so such a config locked the
 * operator out while looking valid; whitespace at either end is a copy-paste accident to stop on.
 */
const headerSecret = (min: number) =>
  z
    .string({ error: "must be text" })
    .min(min, `must be at least ${min} characters`)
    .regex(/^[\x21-\x7e]+$/, "must be visible ASCII characters only (no spaces, line breaks or non-ASCII): it is sent in an HTTP header");
/**
 * A shared secret used as key material only: any characters. Whitespace at either end is suspicious but works as
 * long as the other side has the same bytes, so check-config warns about it rather than the gateway refusing it.
 */
const keyMaterial = (min: number) => z.string({ error: "must be text" }).min(min, `must be at least ${min} characters`);

/** http(s) URLs only; and no user:password in them (check-config and logs print URLs). */
const httpUrl = (what: string) =>
  z.url({ protocol: /^https?$/, error: `must be an http:// or https:// URL (${what})` }).refine((text) => {
    // zod runs this check even after z.url has failed: only a parseable URL is looked into.
    const url = URL.canParse(text) ? new URL(text) : null;
    return url === null || (url.username === "" && url.password === "");
  }, "must not contain a user name or password (they would be printed by check-config and sent in every request); use the secrets instead");

/** Durations were bounded only by MAX_SAFE_INTEGER, past what a Date can hold (`now + lifetime` became Invalid Date); 100 years is bound enough. */
const MAX_DAYS_MS = 100 * 365 * DAY_MS;

/** A duration of at least a day (key lifetimes and ages are counted in days) and at most 100 years, or `off`. */
const days = (allowOff: boolean) =>
  z.union([z.string(), z.number()], { error: `must be a duration like "90d" or "1y"${allowOff ? ', or "off"' : ""}` }).transform((value, ctx) => {
    if (allowOff && value === "off") return null;
    const ms = parseDuration(value);
    if (ms === null || ms < DAY_MS || ms > MAX_DAYS_MS) {
      ctx.addIssue({ code: "custom", message: `"${value}" is not a duration from a day to 100 years, like "90d" or "1y"${allowOff ? ', or "off"' : ""}` });
      return z.NEVER;
    }
    return ms;
  });

/** A retention period: at least its rows' own bucket (shorter deletes a row while it is still being written), at most 100 years. */
const retention = (min: number, minText: string) =>
  duration.refine((ms) => ms >= min && ms <= MAX_DAYS_MS, `must be from ${minText} to 100 years (e.g. "48h", "400d")`);

/** Every var and secret the gateway reads; anything else in `[vars]` is ignored (check-config warns about it). */
const configVars = z.object({
  ORIGIN_URL: httpUrl("your API, e.g. https://api.example.com")
    // The path is kept as a base path (src/gateway/proxy.ts); a query or fragment would be silently dropped.
    .refine((text) => !/[?#]/.test(text), "must not contain a query (?) or fragment (#): only a base path is kept")
    .default("http://127.0.0.1:8788"),
  KEY_PREFIX: z.string().refine((p) => p.length >= 3 && p.length <= 17 && KEY_PREFIX_PATTERN.test(p), KEY_PREFIX_RULE).default("kg_"),
  ORIGIN_TIMEOUT_MS: intFromVar(10_000, MAX_TIMER_MS),
  RATE_LIMIT_BACKEND: z.enum(["durable-object", "upstash"]).optional(),
  RATE_LIMIT_FAILURE_MODE: z.enum(["open", "closed"]).default("closed"),
  SCOPES: jsonValue(z.record(z.string().regex(SCOPE_NAME, "is not a valid scope name (lowercase letters, digits, _ . - in parts joined by :, starting with a letter, e.g. reports:read)"), z.string())).default({}),
  TIERS: jsonValue(z.record(z.string().regex(TIER_NAME, "is not a valid tier name (1-32 characters: a lowercase letter, then lowercase letters, digits, _ or -)"), tierSchema)),
  ROUTES: jsonValue(z.array(route)).default([]),
  CORS: jsonValue(corsConfigSchema).optional(),
  MEMORY_CACHE_TTL_MS: intFromVar(5_000, MAX_CACHE_TTL_MS),
  NEGATIVE_CACHE_TTL_MS: intFromVar(30_000, MAX_CACHE_TTL_MS),
  REQUIRE_KEY_EXPIRY: booleanVar.default(false),
  MAX_KEY_LIFETIME: days(false).optional(),
  ROTATION_REMINDER_AFTER: days(true).default(90 * DAY_MS),
  // Buffered per signed request to hash it: bounded so a Worker's 128 MB holds many at once.
  SIGNED_BODY_MAX_BYTES: wholeNumber(0, 16 * 1024 * 1024, "bytes").default(1024 * 1024),
  // SPEC §8: how long an isolate aggregates usage before sending it; bounded by waitUntil's 30 s after a response.
  USAGE_FLUSH_INTERVAL_MS: wholeNumber(10, 20_000, "milliseconds").default(10_000),
  USAGE_MINUTE_RETENTION: retention(60_000, "1m").default(48 * 3_600_000),
  USAGE_HOUR_RETENTION: retention(3_600_000, "1h").default(400 * 86_400_000),
  AUTH_FAILURE_RETENTION: retention(3_600_000, "1h").default(90 * 86_400_000),
  // SPEC §9: per-source failed authentications, and per-credential management calls.
  AUTH_FAILURE_LIMIT: countPerWindow("20/60s"),
  MANAGEMENT_RATE_LIMIT: countPerWindow("600/60s"),
  ADMIN_TOKEN: headerSecret(16).optional(),
  UPSTASH_REDIS_REST_URL: httpUrl("your database's REST URL from the Upstash console").optional(),
  UPSTASH_REDIS_REST_TOKEN: headerSecret(1).optional(),
  ORIGIN_SIGNING_SECRET: keyMaterial(16).optional(),
  // SPEC §10: leak response and events.
  GITHUB_SECRET_SCANNING_KEYS_URL: httpUrl(`default ${GITHUB_KEYS_URL}`).default(GITHUB_KEYS_URL),
  LEAKED_KEY_ACTION: z.enum(["revoke", "notify"]).default("revoke"),
  WEBHOOK_URL: httpUrl("your webhook receiver").optional(),
  WEBHOOK_SECRET: z.string().regex(WEBHOOK_SECRET_PATTERN, WEBHOOK_SECRET_RULE).optional(),
  // The console's session cookie is encrypted with a key derived from this (or, without it, from ADMIN_TOKEN).
  CONSOLE_SESSION_SECRET: keyMaterial(32).optional(),
  CONSOLE_SESSION_TTL: duration.refine((ms) => ms >= 60_000 && ms <= 7 * 86_400_000, "must be between 1m and 7d").default(8 * 3_600_000),
});

export const CONFIG_VAR_NAMES: readonly string[] = Object.keys(configVars.shape);

const configSchema = configVars
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
    // Every origin holds the signing secret (and often logs its config): the same string as the operator token would let
    // any of them, or anyone who reads them, call the management API as the operator.
    if (raw.ORIGIN_SIGNING_SECRET !== undefined && raw.ORIGIN_SIGNING_SECRET === raw.ADMIN_TOKEN) {
      ctx.addIssue({ code: "custom", path: ["ORIGIN_SIGNING_SECRET"], message: "must differ from ADMIN_TOKEN: every origin holds it, and the operator token opens the whole management API" });
    }
    // The console's cookies carry the signed-in credential, encrypted under a key derived from this secret.
    if (raw.CONSOLE_SESSION_SECRET !== undefined && raw.CONSOLE_SESSION_SECRET === raw.ORIGIN_SIGNING_SECRET) {
      ctx.addIssue({ code: "custom", path: ["CONSOLE_SESSION_SECRET"], message: "must differ from ORIGIN_SIGNING_SECRET: every origin holds that one, and this one decrypts the console's session cookies" });
    }
    if (raw.WEBHOOK_URL && !raw.WEBHOOK_SECRET) ctx.addIssue({ code: "custom", path: ["WEBHOOK_SECRET"], message: "is required when WEBHOOK_URL is set" });
    // Each missing one named: reporting the URL when only the token was missing sent operators to the wrong secret.
    if (raw.RATE_LIMIT_BACKEND === "upstash") {
      for (const name of ["UPSTASH_REDIS_REST_URL", "UPSTASH_REDIS_REST_TOKEN"] as const) {
        if (!raw[name]) ctx.addIssue({ code: "custom", path: [name], message: "is required when RATE_LIMIT_BACKEND is upstash (a secret: wrangler secret put, or .dev.vars locally)" });
      }
    } else if (!raw.RATE_LIMIT_BACKEND && Boolean(raw.UPSTASH_REDIS_REST_URL) !== Boolean(raw.UPSTASH_REDIS_REST_TOKEN)) {
      // Half a pair silently fell back to the Durable Object limiter: the operator meant Upstash.
      const missing = raw.UPSTASH_REDIS_REST_URL ? "UPSTASH_REDIS_REST_TOKEN" : "UPSTASH_REDIS_REST_URL";
      ctx.addIssue({ code: "custom", path: [missing], message: `is required with ${missing === "UPSTASH_REDIS_REST_URL" ? "UPSTASH_REDIS_REST_TOKEN" : "UPSTASH_REDIS_REST_URL"} (or set RATE_LIMIT_BACKEND = "durable-object" and remove it)` });
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

/**
 * zod's generic messages ("Invalid input", "Too small: expected number to be >0") in the words of an
 * operator editing wrangler.toml. Only for issues whose schema gave no message of its own; never
 * quotes the value (it may be a secret), only its kind.
 */
function configIssueMessage(issue: z.core.$ZodRawIssue): string | undefined {
  if (issue.input === undefined && (issue.code === "invalid_type" || issue.code === "invalid_union")) return 'is required (README "Configuration")';
  const kind = (value: unknown) => (value === null ? "null" : Array.isArray(value) ? "a list" : typeof value === "object" ? "a table" : typeof value === "number" && Number.isNaN(value) ? "not a number" : `a ${typeof value}`);
  switch (issue.code) {
    case "invalid_type": {
      const expected: Record<string, string> = { number: "a number", int: "a whole number", string: "text (a string)", boolean: "true or false", array: "a list ([...])", object: "a table ({...})", record: "a table ({...})" };
      if (issue.expected === "int" && typeof issue.input === "number") return "must be a whole number";
      return `must be ${expected[issue.expected] ?? issue.expected}, not ${kind(issue.input)}`;
    }
    case "too_small": {
      const min = Number(issue.minimum);
      if (issue.origin === "array") return `needs at least ${min} item${min === 1 ? "" : "s"}`;
      if (issue.origin === "string") return `must be at least ${min} character${min === 1 ? "" : "s"}`;
      return issue.inclusive === false ? `must be more than ${min}` : `must be at least ${min}`;
    }
    case "too_big": {
      const max = Number(issue.maximum);
      if (issue.origin === "array") return `may have at most ${max} items`;
      if (issue.origin === "string") return `must be at most ${max} characters`;
      return issue.inclusive === false ? `must be less than ${max}` : `must be at most ${max}`;
    }
    case "invalid_value":
      return `must be one of ${issue.values.map((v) => JSON.stringify(v)).join(", ")}`;
    case "invalid_key":
      return `is not an allowed name here${issue.issues[0]?.message ? `: it ${issue.issues[0].message}` : ""}`;
    case "unrecognized_keys":
      return `has ${issue.keys.length === 1 ? "an unknown field" : "unknown fields"} ${issue.keys.map((k) => `"${k}"`).join(", ")}`;
    case "invalid_format":
      return issue.format === "url" ? "must be an http:// or https:// URL" : undefined;
    case "invalid_union":
      return "is not in any of the accepted forms (README \"Configuration\")";
    default:
      return undefined;
  }
}

/** Parses raw vars; throws a `gateway_misconfigured` error that names the first bad field. */
export function parseConfig(vars: Record<string, unknown>): Config {
  const parsed = configSchema.safeParse(vars, { error: configIssueMessage });
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
