import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { BUILTIN_SCOPES, displayField, loadConfig, parseConfig } from "./config";
import type { Env } from "./env";
import { KeygateError } from "./errors";

const TIERS = { free: { limit: 60, window: "60s" } };

/** Runs `parseConfig` expecting failure and returns the thrown error for inspection. */
function configError(vars: Record<string, unknown>): KeygateError {
  try {
    parseConfig(vars);
  } catch (err) {
    if (err instanceof KeygateError) return err;
    throw err;
  }
  throw new Error("expected parseConfig to throw");
}

describe("parseConfig defaults", () => {
  it("fills every optional var with its documented default", () => {
    const config = parseConfig({ TIERS });
    expect(config.keyPrefix).toBe("kg_");
    expect(config.originUrl.href).toBe("http://127.0.0.1:8788/");
    expect(config.originTimeoutMs).toBe(10_000);
    expect(config.rateLimitBackend).toBe("durable-object");
    expect(config.rateLimitFailureMode).toBe("closed");
    expect(config.routes).toEqual([]);
    expect(config.memoryCacheTtlMs).toBe(5_000);
    expect(config.negativeCacheTtlMs).toBe(30_000);
    expect(config.signedBodyMaxBytes).toBe(1_048_576);
    expect(config.usageFlushIntervalMs).toBe(10_000);
    expect(config.usageMinuteRetentionMs).toBe(48 * 3_600_000);
    expect(config.usageHourRetentionMs).toBe(400 * 86_400_000);
    expect(config.authFailureRetentionMs).toBe(90 * 86_400_000);
    expect(config.adminToken).toBeUndefined();
    expect(config.upstash).toBeUndefined();
  });

  it("always includes the built-in management scopes in the catalogue", () => {
    const config = parseConfig({ TIERS, SCOPES: { "demo:read": "read" } });
    expect(Object.keys(config.scopes).sort()).toEqual([...Object.keys(BUILTIN_SCOPES), "demo:read"].sort());
  });

  it("turns tier windows into milliseconds and defaults the mode to strict", () => {
    const config = parseConfig({ TIERS: { free: { limit: 10, window: "2m" }, pro: { limit: 5, window: "1h", mode: "fast", org_limit: 50 } } });
    expect(config.tiers.free).toEqual({ limits: [{ name: "default", limit: 10, window: 120_000, mode: "strict" }], org_window: 120_000, mode: "strict" });
    expect(config.tiers.pro).toEqual({ limits: [{ name: "default", limit: 5, window: 3_600_000, mode: "fast" }], org_window: 3_600_000, mode: "fast", org_limit: 50 });
  });

  it("coerces numeric vars given as strings", () => {
    expect(parseConfig({ TIERS, ORIGIN_TIMEOUT_MS: "2500" }).originTimeoutMs).toBe(2500);
  });

  it("picks the upstash backend when its credentials are present and no backend is named", () => {
    const config = parseConfig({ TIERS, UPSTASH_REDIS_REST_URL: "https://redis.example", UPSTASH_REDIS_REST_TOKEN: "t" });
    expect(config.rateLimitBackend).toBe("upstash");
    expect(config.upstash).toEqual({ url: "https://redis.example", token: "t" });
  });
});

describe("parseConfig with JSON-string vars (from --var or the dashboard)", () => {
  it("parses SCOPES, TIERS and ROUTES given as JSON text exactly like TOML tables", () => {
    const config = parseConfig({
      SCOPES: JSON.stringify({ "demo:read": "read" }),
      TIERS: JSON.stringify(TIERS),
      ROUTES: JSON.stringify([{ method: "GET", path: "/demo/*", scopes: ["demo:read"] }]),
    });
    expect(config.scopes["demo:read"]).toBe("read");
    expect(config.tiers.free).toEqual({ limits: [{ name: "default", limit: 60, window: 60_000, mode: "strict" }], org_window: 60_000, mode: "strict" });
    expect(config.routes).toEqual([{ method: "GET", path: "/demo/*", scopes: ["demo:read"], cost: 1 }]);
  });

  it("names the var whose JSON text does not parse", () => {
    const err = configError({ TIERS: "{not json" });
    expect(err.code).toBe("gateway_misconfigured");
    expect(err.status).toBe(500);
    expect(err.message).toContain("TIERS");
    expect(err.details?.[0]).toEqual({ field: "TIERS", message: "is not valid JSON (line 1, column 2)" });
  });

  it("gives the line and column where JSON text stops parsing, never the text", () => {
    const err = configError({ TIERS: '{\n  "free": { "limit": 5, }\n}' });
    expect(err.details?.[0]).toEqual({ field: "TIERS", message: "is not valid JSON (line 2, column 25)" });
    expect(configError({ TIERS: '{"free": ' }).details?.[0]?.message).toBe("is not valid JSON (line 1, column 10)");
  });

  it("counts array indexes from 1 in the message, as an operator counts [[vars.ROUTES]] blocks", () => {
    expect(displayField("ROUTES.2.scopes.0")).toBe("ROUTES[3].scopes[1]");
    expect(displayField("TIERS.free.limit")).toBe("TIERS.free.limit");
    expect(displayField("SCOPES.7")).toBe("SCOPES.7");
  });
});

describe("parseConfig rejects bad config and names the bad field", () => {
  it.each(["KG_", "k_", "kg", "1kg_", "kg-_", "averyveryverylongprefix_", "kg__", "_kg_", "mayo__ak_", "mayo_ak"])("rejects KEY_PREFIX %j", (prefix) => {
    const err = configError({ TIERS, KEY_PREFIX: prefix });
    expect(err.code).toBe("gateway_misconfigured");
    expect(err.message).toContain("KEY_PREFIX");
    expect(err.details?.map((d) => d.field)).toEqual(["KEY_PREFIX"]);
  });

  it.each(["kg_", "mayoak_", "mayo_ak_", "ab_", "a1234567890abcde_", "a_b_c_"])("accepts KEY_PREFIX %j", (prefix) => {
    expect(parseConfig({ TIERS, KEY_PREFIX: prefix }).keyPrefix).toBe(prefix);
  });

  it("rejects a route that requires a scope missing from the catalogue", () => {
    const err = configError({
      TIERS,
      SCOPES: { "demo:read": "read" },
      ROUTES: [
        { method: "GET", path: "/a", scopes: ["demo:read"] },
        { method: "GET", path: "/b", scopes: ["demo:read", "demo:delete"] },
      ],
    });
    expect(err.message).toContain("ROUTES[2].scopes[2]");
    expect(err.details).toEqual([{ field: "ROUTES.1.scopes.1", message: 'scope "demo:delete" is not in SCOPES' }]);
  });

  it("accepts routes that require built-in scopes without listing them in SCOPES", () => {
    expect(parseConfig({ TIERS, ROUTES: [{ path: "/x", scopes: ["admin"] }] }).routes[0]).toEqual({ method: "*", path: "/x", scopes: ["admin"], cost: 1 });
  });

  it("rejects a route restricted to an unknown tier", () => {
    const err = configError({ TIERS, ROUTES: [{ path: "/x", tiers: ["gold"] }] });
    expect(err.details).toEqual([{ field: "ROUTES.0.tiers.0", message: 'tier "gold" is not in TIERS' }]);
  });

  it("rejects a route path that does not start with /", () => {
    expect(configError({ TIERS, ROUTES: [{ path: "demo/*" }] }).details?.[0]?.field).toBe("ROUTES.0.path");
  });

  it("rejects an unknown key in a route (typos must not silently widen access)", () => {
    expect(configError({ TIERS, ROUTES: [{ path: "/x", scope: ["admin"] }] }).details?.[0]?.field).toBe("ROUTES.0");
  });

  it("requires TIERS, with at least one tier", () => {
    expect(configError({}).details?.[0]?.field).toBe("TIERS");
    expect(configError({ TIERS: {} }).details).toEqual([{ field: "TIERS", message: "needs at least one tier" }]);
  });

  it("names the tier field that is wrong", () => {
    expect(configError({ TIERS: { free: { limit: 0, window: "60s" } } }).details?.[0]?.field).toBe("TIERS.free.limit");
    expect(configError({ TIERS: { free: { limit: 5, window: "soon" } } }).details?.[0]?.field).toBe("TIERS.free.window");
    expect(configError({ TIERS: { Free: { limit: 5, window: "60s" } } }).details?.[0]?.field).toBe("TIERS.Free");
  });

  it("rejects a malformed scope name in the catalogue", () => {
    expect(configError({ TIERS, SCOPES: { "Demo Read": "x" } }).details?.[0]?.field).toBe("SCOPES.Demo Read");
  });

  it("rejects enum vars with values outside their set", () => {
    expect(configError({ TIERS, RATE_LIMIT_FAILURE_MODE: "maybe" }).details?.[0]?.field).toBe("RATE_LIMIT_FAILURE_MODE");
    expect(configError({ TIERS, RATE_LIMIT_BACKEND: "redis" }).details?.[0]?.field).toBe("RATE_LIMIT_BACKEND");
  });

  it("requires the Upstash credentials when the upstash backend is chosen", () => {
    expect(configError({ TIERS, RATE_LIMIT_BACKEND: "upstash" }).details?.[0]?.field).toBe("UPSTASH_REDIS_REST_URL");
  });

  it("rejects an operator token too short to resist guessing", () => {
    expect(configError({ TIERS, ADMIN_TOKEN: "short" }).details?.[0]?.field).toBe("ADMIN_TOKEN");
  });

  it("takes SIGNED_BODY_MAX_BYTES from 0 to 16 MiB and names it otherwise", () => {
    expect(parseConfig({ TIERS, SIGNED_BODY_MAX_BYTES: "65536" }).signedBodyMaxBytes).toBe(65_536);
    expect(parseConfig({ TIERS, SIGNED_BODY_MAX_BYTES: 0 }).signedBodyMaxBytes).toBe(0);
    for (const bad of ["-1", "1.5", "lots", String(16 * 1024 * 1024 + 1)]) {
      expect(configError({ TIERS, SIGNED_BODY_MAX_BYTES: bad }).message).toContain("SIGNED_BODY_MAX_BYTES");
    }
  });

  it("takes the usage flush interval and retention periods, and names them when wrong", () => {
    const config = parseConfig({ TIERS, USAGE_FLUSH_INTERVAL_MS: "2000", USAGE_MINUTE_RETENTION: "24h", USAGE_HOUR_RETENTION: "30d", AUTH_FAILURE_RETENTION: "1w" });
    expect([config.usageFlushIntervalMs, config.usageMinuteRetentionMs, config.usageHourRetentionMs, config.authFailureRetentionMs]).toEqual([2_000, 86_400_000, 30 * 86_400_000, 7 * 86_400_000]);
    for (const [name, bad] of [["USAGE_FLUSH_INTERVAL_MS", "60000"], ["USAGE_FLUSH_INTERVAL_MS", "0"], ["USAGE_MINUTE_RETENTION", "forever"], ["USAGE_HOUR_RETENTION", "0s"], ["AUTH_FAILURE_RETENTION", "-1d"]] as const) {
      expect(configError({ TIERS, [name]: bad }).message).toContain(name);
    }
  });

  it("keys console sessions to CONSOLE_SESSION_SECRET, else ADMIN_TOKEN, and bounds CONSOLE_SESSION_TTL", () => {
    expect(parseConfig({ TIERS }).console).toEqual({ sessionSecret: undefined, sessionTtlMs: 8 * 3_600_000 });
    const token = "operator-token-0123456789";
    expect(parseConfig({ TIERS, ADMIN_TOKEN: token }).console.sessionSecret).toBe(token);
    const secret = "s".repeat(32);
    expect(parseConfig({ TIERS, ADMIN_TOKEN: token, CONSOLE_SESSION_SECRET: secret, CONSOLE_SESSION_TTL: "30m" }).console).toEqual({ sessionSecret: secret, sessionTtlMs: 1_800_000 });
    expect(configError({ TIERS, CONSOLE_SESSION_SECRET: "short" }).message).toContain("CONSOLE_SESSION_SECRET must be at least 32 characters");
    for (const bad of ["30s", "8d", "soon"]) expect(configError({ TIERS, CONSOLE_SESSION_TTL: bad }).message).toContain("CONSOLE_SESSION_TTL");
  });

  it("rejects an ORIGIN_URL that is not http(s)", () => {
    expect(configError({ TIERS, ORIGIN_URL: "ftp://origin.example" }).details?.[0]?.field).toBe("ORIGIN_URL");
  });

  it("lists every bad field in details, not only the first", () => {
    const err = configError({ TIERS, KEY_PREFIX: "BAD", ORIGIN_TIMEOUT_MS: "-1" });
    expect(err.details?.map((d) => d.field).sort()).toEqual(["KEY_PREFIX", "ORIGIN_TIMEOUT_MS"]);
  });
});

describe("loadConfig", () => {
  it("validates the test worker's wrangler.toml config", () => {
    const config = loadConfig(env);
    expect(config.tiers).toHaveProperty("free");
    expect(config.scopes).toHaveProperty("demo:read");
    expect(config.adminToken).toBe(env.ADMIN_TOKEN);
  });

  it("returns the same parsed object for the same env (parsed once per isolate)", () => {
    expect(loadConfig(env)).toBe(loadConfig(env));
  });

  it("keeps throwing gateway_misconfigured for an invalid env", () => {
    const bad = { ...env, KEY_PREFIX: "NOPE" } as Env;
    for (let i = 0; i < 2; i++) {
      expect(() => loadConfig(bad)).toThrow(KeygateError);
      expect(() => loadConfig(bad)).toThrow(/KEY_PREFIX/);
    }
  });
});

describe("parseConfig: leak response and webhooks (SPEC §10)", () => {
  const SECRET = `whsec_${btoa(String.fromCharCode(...new Uint8Array(32).fill(9)))}`;

  it("defaults to GitHub's keys URL, revoking, and no webhooks", () => {
    const config = parseConfig({ TIERS });
    expect(config.githubKeysUrl).toBe("https://api.github.com/meta/public_keys/secret_scanning");
    expect(config.leakedKeyAction).toBe("revoke");
    expect(config.webhook).toBeUndefined();
  });

  it("takes WEBHOOK_URL with a whsec_ WEBHOOK_SECRET, and notify", () => {
    const config = parseConfig({ TIERS, WEBHOOK_URL: "https://hooks.example.com/k", WEBHOOK_SECRET: SECRET, LEAKED_KEY_ACTION: "notify" });
    expect(config.webhook).toEqual({ url: "https://hooks.example.com/k", secret: SECRET });
    expect(config.leakedKeyAction).toBe("notify");
  });

  it("names the field when the webhook or leak settings are wrong", () => {
    expect(configError({ TIERS, WEBHOOK_URL: "https://hooks.example.com/k" }).message).toContain("WEBHOOK_SECRET is required when WEBHOOK_URL is set");
    expect(configError({ TIERS, WEBHOOK_URL: "https://h.example/k", WEBHOOK_SECRET: "hunter2-but-longer-than-16" }).message).toContain("WEBHOOK_SECRET must be whsec_");
    expect(configError({ TIERS, WEBHOOK_URL: "ftp://h.example/k", WEBHOOK_SECRET: SECRET }).message).toContain("WEBHOOK_URL");
    expect(configError({ TIERS, LEAKED_KEY_ACTION: "delete" }).message).toContain("LEAKED_KEY_ACTION");
    expect(configError({ TIERS, GITHUB_SECRET_SCANNING_KEYS_URL: "not a url" }).message).toContain("GITHUB_SECRET_SCANNING_KEYS_URL");
  });
});

describe("abuse limits (SPEC §9)", () => {
  it("default to 20 failed authentications per source and 600 management calls per credential, per 60 s", () => {
    const config = parseConfig({ TIERS });
    expect(config.authFailureLimit).toEqual({ limit: 20, windowMs: 60_000 });
    expect(config.managementRateLimit).toEqual({ limit: 600, windowMs: 60_000 });
  });

  it("take a count per window, or a bare count per 60 s", () => {
    expect(parseConfig({ TIERS, AUTH_FAILURE_LIMIT: "5/10m", MANAGEMENT_RATE_LIMIT: 100 })).toMatchObject({
      authFailureLimit: { limit: 5, windowMs: 600_000 },
      managementRateLimit: { limit: 100, windowMs: 60_000 },
    });
  });

  it("reject anything else, naming the var", () => {
    for (const bad of ["0/60s", "-1", "ten", "10/0s", "10/500ms", "10/soon"]) {
      expect(configError({ TIERS, AUTH_FAILURE_LIMIT: bad }).message, bad).toContain("AUTH_FAILURE_LIMIT");
      expect(configError({ TIERS, MANAGEMENT_RATE_LIMIT: bad }).message, bad).toContain("MANAGEMENT_RATE_LIMIT");
    }
  });
});

describe("TIERS v2: named windows, quotas, route costs (SPEC §7)", () => {
  it("reads several named windows, a quota, an org aggregate over its own window, and per-limit modes", () => {
    const config = parseConfig({
      TIERS: {
        pro: {
          limits: [
            { name: "burst", limit: 10, window: "1s", mode: "fast" },
            { name: "default", limit: 600, window: "60s" },
          ],
          quota: { limit: 100_000, period: "month" },
          org_limit: 3000,
        },
      },
      ROUTES: [{ path: "/search", cost: 5 }],
    });
    expect(config.tiers.pro).toEqual({
      limits: [
        { name: "burst", limit: 10, window: 1_000, mode: "fast" },
        { name: "default", limit: 600, window: 60_000, mode: "strict" },
      ],
      quota: { limit: 100_000, period: "month" },
      org_limit: 3000,
      org_window: 60_000,
      mode: "strict",
    });
    expect(config.routes[0]!.cost).toBe(5);
  });

  it.each([
    [{ limits: [{ name: "a", limit: 1, window: "1s" }, { name: "a", limit: 2, window: "2s" }] }, "TIERS.t.limits.1.name", "used twice"],
    [{ limits: [{ name: "quota", limit: 1, window: "1s" }] }, "TIERS.t.limits.0.name", "reserved"],
    [{ limits: [{ name: "Burst", limit: 1, window: "1s" }] }, "TIERS.t.limits.0.name", "lowercase"],
    [{ limits: [{ name: "a", limit: 1, window: "500ms" }] }, "TIERS.t.limits.0.window", "between 1s and 31d"],
    [{ limits: [{ name: "a", limit: 1, window: "32d" }] }, "TIERS.t.limits.0.window", "between 1s and 31d"],
    [{ limits: [{ name: "a", limit: 1.5, window: "1s" }] }, "TIERS.t.limits.0.limit", ""],
    [{ limits: [] }, "TIERS.t.limits", ""],
    [{ limit: 5, window: "60s", quota: { limit: 5, period: "week" } }, "TIERS.t.quota.period", ""],
    [{ limit: 5, window: "60s", limits: [{ name: "a", limit: 1, window: "1s" }] }, "TIERS.t.limits", "not both"],
    [{ limit: 5 }, "TIERS.t.window", "required"],
  ])("refuses tier %j naming %s", (tier, field, message) => {
    const err = configError({ TIERS: { t: tier } });
    expect(err.details?.map((d) => d.field)).toContain(field);
    expect(err.details?.find((d) => d.field === field)?.message).toContain(message);
  });

  it.each([0, -1, 1.5, "5"])("refuses route cost %j", (cost) => {
    expect(configError({ TIERS, ROUTES: [{ path: "/x", cost }] }).details?.[0]?.field).toBe("ROUTES.0.cost");
  });

  it("refuses a route whose cost no window of a tier it serves could ever admit", () => {
    const err = configError({ TIERS: { free: { limit: 3, window: "60s" }, pro: { limit: 100, window: "60s" } }, ROUTES: [{ path: "/x", cost: 5, tiers: ["pro"] }, { path: "/y", cost: 5 }] });
    expect(err.details).toEqual([{ field: "ROUTES.1.cost", message: expect.stringContaining('tier "free"') }]);
  });
});

describe("operator mistakes are refused with a message naming the var (not coerced into another setting)", () => {
  /** The one-line message an operator reads in check-config, npm start and the worker's log. */
  const message = (vars: Record<string, unknown>) => configError({ TIERS, ...vars }).message;

  it.each([
    ["ORIGIN_TIMEOUT_MS", ""],
    ["ORIGIN_TIMEOUT_MS", " "],
    ["ORIGIN_TIMEOUT_MS", "1e3"],
    ["ORIGIN_TIMEOUT_MS", "0x10"],
    ["ORIGIN_TIMEOUT_MS", "10000.0"],
    ["ORIGIN_TIMEOUT_MS", true],
    ["ORIGIN_TIMEOUT_MS", "99999999999999"],
    ["MEMORY_CACHE_TTL_MS", "999999999999"],
    ["NEGATIVE_CACHE_TTL_MS", "1e9"],
    ["SIGNED_BODY_MAX_BYTES", ""],
    ["SIGNED_BODY_MAX_BYTES", false],
    ["USAGE_FLUSH_INTERVAL_MS", "2e3"],
  ])("%s = %j is not a whole number in range", (name, value) => {
    expect(message({ [name]: value })).toMatch(new RegExp(`^gateway configuration is invalid: ${name} .*whole number of (milliseconds|bytes) from \\d+ to \\d+`));
  });

  it("still takes whole numbers as TOML integers or digit text, up to 10 minutes for timeouts and cache TTLs", () => {
    const config = parseConfig({ TIERS, ORIGIN_TIMEOUT_MS: 600_000, MEMORY_CACHE_TTL_MS: "600000", NEGATIVE_CACHE_TTL_MS: " 1000 ", SIGNED_BODY_MAX_BYTES: "0" });
    expect([config.originTimeoutMs, config.memoryCacheTtlMs, config.negativeCacheTtlMs, config.signedBodyMaxBytes]).toEqual([600_000, 600_000, 1000, 0]);
  });

  it("a limit with a third part or a window past 31 days is refused, not read as its first two parts", () => {
    expect(message({ AUTH_FAILURE_LIMIT: "20/60s/5" })).toContain('AUTH_FAILURE_LIMIT "20/60s/5" is not a limit like "600/60s"');
    expect(message({ MANAGEMENT_RATE_LIMIT: "10/100y" })).toContain("MANAGEMENT_RATE_LIMIT");
    expect(message({ MANAGEMENT_RATE_LIMIT: "1e3/60s" })).toContain("MANAGEMENT_RATE_LIMIT");
  });

  it("an operator token that cannot be sent in an Authorization header is refused (it would lock the operator out)", () => {
    for (const token of ["correct horse battery staple", " padded-token-0123456789", "token-0123456789\n", "tökén-0123456789abc"]) {
      expect(message({ ADMIN_TOKEN: token })).toMatch(/^gateway configuration is invalid: ADMIN_TOKEN must be visible ASCII characters only/);
    }
    expect(message({ UPSTASH_REDIS_REST_TOKEN: "a token" })).toContain("UPSTASH_REDIS_REST_TOKEN must be visible ASCII");
    expect(parseConfig({ TIERS, ADMIN_TOKEN: "Zx9!#$%&'*+-.^_`|~0123" }).adminToken).toBe("Zx9!#$%&'*+-.^_`|~0123");
  });

  it("shared secrets padded with whitespace are refused, naming the var and never quoting the value", () => {
    const secret = " origin-signing-secret-0123456789";
    const text = message({ ORIGIN_SIGNING_SECRET: secret });
    expect(text).toContain("ORIGIN_SIGNING_SECRET must not start or end with whitespace");
    expect(text).not.toContain(secret.trim());
    expect(message({ CONSOLE_SESSION_SECRET: "console-session-secret-0123456789abcdef\n" })).toContain("CONSOLE_SESSION_SECRET must not start or end with whitespace");
  });

  it("URLs: credentials, a query or a fragment in ORIGIN_URL, and non-http(s) Upstash URLs are refused", () => {
    const withPassword = message({ ORIGIN_URL: "https://user:hunter2@api.example.com" });
    expect(withPassword).toContain("ORIGIN_URL must not contain a user name or password");
    expect(withPassword).not.toContain("hunter2");
    expect(message({ ORIGIN_URL: "https://api.example.com/v1?token=x" })).toContain("ORIGIN_URL must not contain a query (?) or fragment (#)");
    expect(message({ ORIGIN_URL: "https://api.example.com/#x" })).toContain("ORIGIN_URL must not contain a query");
    expect(message({ ORIGIN_URL: "api.example.com" })).toContain("ORIGIN_URL must be an http:// or https:// URL");
    expect(message({ UPSTASH_REDIS_REST_URL: "redis://cache:6379", UPSTASH_REDIS_REST_TOKEN: "t" })).toContain("UPSTASH_REDIS_REST_URL must be an http:// or https:// URL");
    expect(message({ WEBHOOK_URL: "https://u:p@hooks.example.com", WEBHOOK_SECRET: `whsec_${"A".repeat(44)}` })).toContain("WEBHOOK_URL must not contain a user name or password");
    expect(parseConfig({ TIERS, ORIGIN_URL: "https://api.example.com/v2/" }).originUrl.pathname).toBe("/v2/");
  });

  it("retention shorter than the rows it keeps, and lifetimes past what a date can hold, are refused", () => {
    expect(message({ USAGE_MINUTE_RETENTION: "1s" })).toContain("USAGE_MINUTE_RETENTION must be from 1h to 100 years");
    expect(message({ USAGE_HOUR_RETENTION: "1m" })).toContain("USAGE_HOUR_RETENTION must be from 1d to 100 years");
    expect(message({ AUTH_FAILURE_RETENTION: "5m" })).toContain("AUTH_FAILURE_RETENTION must be from 1d");
    expect(message({ MAX_KEY_LIFETIME: "300000y" })).toContain('MAX_KEY_LIFETIME "300000y" is not a duration from a day to 100 years');
    expect(message({ ROTATION_REMINDER_AFTER: "101y" })).toContain("ROTATION_REMINDER_AFTER");
    expect(parseConfig({ TIERS, USAGE_MINUTE_RETENTION: "1h", USAGE_HOUR_RETENTION: "1d", MAX_KEY_LIFETIME: "100y" }).usageMinuteRetentionMs).toBe(3_600_000);
  });

  it("zod's generic wording is replaced by what the operator must write", () => {
    expect(message({ ROUTES: [{ path: "/v1", method: "get" }] })).toContain('ROUTES[1].method must be one of "*", "GET"');
    expect(message({ REQUIRE_KEY_EXPIRY: "yes" })).toContain("REQUIRE_KEY_EXPIRY must be true or false");
    expect(message({ RATE_LIMIT_BACKEND: "redis" })).toContain('RATE_LIMIT_BACKEND must be one of "durable-object", "upstash"');
    expect(message({ SCOPES: "[]" })).toContain("SCOPES must be a table ({...}), not a list");
    expect(message({ SCOPES: { "Bad Scope": "x" } })).toContain("SCOPES.Bad Scope is not an allowed name here: it is not a valid scope name (lowercase letters");
    expect(message({ TIERS: { Free: { limit: 1, window: "1s" } } })).toContain("TIERS.Free is not an allowed name here: it is not a valid tier name (1-32 characters");
    expect(message({ TIERS: { free: { limit: 0, window: "60s" } } })).toContain("TIERS.free.limit must be more than 0");
    expect(message({ TIERS: { free: { limit: 1.5, window: "60s" } } })).toContain("TIERS.free.limit must be a whole number");
    expect(message({ ROUTES: [{ path: "/v1", extra: 1 }] })).toContain('ROUTES[1] has an unknown field "extra"');
    for (const text of [message({ ROUTES: [{ path: "/v1", method: "get" }] }), message({ REQUIRE_KEY_EXPIRY: "yes" }), message({ ORIGIN_TIMEOUT_MS: "" })]) {
      expect(text).not.toMatch(/Invalid input|Too small|Invalid URL|expected number/);
    }
  });
});
