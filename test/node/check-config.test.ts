import { execFile } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it, type TestContext } from "vitest";
import { checkConfig, isLocalHost, pathCovers } from "../../scripts/check-config.ts";

// wrangler's own config warnings (e.g. vars not inherited into an [env.*], which several cases do on purpose) are
// for operators; in this suite's output they are noise.
process.env.WRANGLER_LOG = "error";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const SCRIPT = join(ROOT, "scripts", "check-config.ts");
const REPO_CONFIG = readFileSync(join(ROOT, "wrangler.toml"), "utf8");

interface Run {
  code: number;
  out: string;
}

/** Runs the script exactly as `npm run check-config -- <args>` does. */
function runScript(args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile(process.execPath, [SCRIPT, ...args], { cwd: ROOT, env: { ...process.env, FORCE_COLOR: "0" } }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === "number" ? err.code : 1) : 0, out: stdout + stderr });
    });
  });
}

/** The same check in this process (wrangler's config reader loads once, not once per case). */
async function check(config: string, env?: string, options: { deploy?: boolean; environment?: NodeJS.ProcessEnv } = {}): Promise<Run> {
  let out = "";
  const collect = (line: string) => void (out += line + "\n");
  const code = await checkConfig(config, env, { log: collect, error: collect }, { environment: {}, ...options });
  return { code, out };
}

/** A scratch directory holding the given files; returns the path of its wrangler.toml. */
function project(context: TestContext, files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), "keygate-check-config-"));
  context.onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  return join(dir, "wrangler.toml");
}

describe("npm run check-config", () => {
  it("passes the repository's wrangler.toml and summarises it", async (context) => {
    const config = project(context, { "wrangler.toml": REPO_CONFIG });
    const run = await check(config);
    expect(run.code).toBe(0);
    expect(run.out).toContain("config OK");
    expect(run.out).toMatch(/tiers\s+free 60\/60s \(strict\); pro 600\/60s, org 3000 \(fast\); enterprise/);
    expect(run.out).toMatch(/scopes\s+demo:read, demo:write/);
    expect(run.out).toMatch(/routes\s+3 rules/);
    expect(run.out).toMatch(/rate limiter\s+durable-object/);
    expect(run.out).toMatch(/signed bodies\s+up to 1048576 bytes/);
    expect(run.out).toMatch(/usage\s+aggregated per isolate, sent every 10000 ms; kept: minutes 48h, hours 400d, failed auth 90d; Analytics Engine off/);
    expect(run.out).not.toContain("no [triggers] crons");
    expect(run.out).toMatch(/abuse limits\s+20 failed authentications per source per 60s \(AUTH_FAILURE_LIMIT\), 600 management calls per credential per 60s/);
    expect(run.out).toMatch(/console\s+\/_keygate\/console, sign-ins last 28800s \(CONSOLE_SESSION_TTL\)/);
    expect(run.out).toMatch(/cors\s+http:\/\/localhost:5173 \(every routed method; preflight cached 600s\)/);
  });

  it("has a line for the key caches and for origin signing, with the values in force", async (context) => {
    const plain = await check(project(context, { "wrangler.toml": REPO_CONFIG }));
    expect(plain.out).toMatch(/^ {2}key cache\s+isolate memory 5000 ms \(MEMORY_CACHE_TTL_MS: a revocation reaches every location within about 70s\), unknown keys remembered 30000 ms \(NEGATIVE_CACHE_TTL_MS\)$/m);
    expect(plain.out).toMatch(/^ {2}origin signing off \(ORIGIN_SIGNING_SECRET is not set\)/m);
    const tuned = await check(project(context, { "wrangler.toml": REPO_CONFIG.replace('KEY_PREFIX = "kg_"', 'KEY_PREFIX = "kg_"\nMEMORY_CACHE_TTL_MS = 20000\nNEGATIVE_CACHE_TTL_MS = 1000') }), undefined, {
      environment: { ORIGIN_SIGNING_SECRET: "origin-signing-secret-0123456789" },
    });
    expect(tuned.code).toBe(0);
    expect(tuned.out).toMatch(/key cache\s+isolate memory 20000 ms \(MEMORY_CACHE_TTL_MS: a revocation reaches every location within about 100s\), unknown keys remembered 1000 ms/);
    expect(tuned.out).toMatch(/^ {2}origin signing on: X-Keygate-Signature v2 on every proxied request \(ORIGIN_SIGNING_SECRET\)/m);
    expect(tuned.out).not.toContain("origin-signing-secret-0123456789");
  });

  it("names the CORS origin that is not an origin, and refuses '*' with credentials", async (context) => {
    const withPath = await check(project(context, { "wrangler.toml": REPO_CONFIG.replace('origins = ["http://localhost:5173"]', 'origins = ["http://localhost:5173/app"]') }));
    expect(withPath.code).toBe(1);
    expect(withPath.out).toContain("CORS.origins[1]");
    const starWithCredentials = await check(project(context, { "wrangler.toml": REPO_CONFIG.replace('origins = ["http://localhost:5173"]', 'origins = ["*"]\ncredentials = true') }));
    expect(starWithCredentials.code).toBe(1);
    expect(starWithCredentials.out).toContain("CORS.credentials");
  });

  it("prints the key-expiry policy and the rotation reminder age, and names a bad policy var", async (context) => {
    const plain = await check(project(context, { "wrangler.toml": REPO_CONFIG }));
    expect(plain.out).toMatch(/key expiry\s+optional/);
    expect(plain.out).toMatch(/rotation\s+key\.rotation_due for active keys older than 90d/);
    const strict = await check(project(context, { "wrangler.toml": REPO_CONFIG.replace('KEY_PREFIX = "kg_"', 'KEY_PREFIX = "kg_"\nMAX_KEY_LIFETIME = "365d"\nROTATION_REMINDER_AFTER = "off"') }));
    expect(strict.code).toBe(0);
    expect(strict.out).toMatch(/key expiry\s+new keys must expire within 365d/);
    expect(strict.out).toMatch(/rotation\s+reminders off/);
    const bad = await check(project(context, { "wrangler.toml": REPO_CONFIG.replace('KEY_PREFIX = "kg_"', 'KEY_PREFIX = "kg_"\nREQUIRE_KEY_EXPIRY = "yes"') }));
    expect(bad.code).toBe(1);
    expect(bad.out).toContain("REQUIRE_KEY_EXPIRY");
  });

  it("refuses a wildcard over a top-level domain and '*' headers with credentials; warns when CORS.headers lets no key through", async (context) => {
    const tld = await check(project(context, { "wrangler.toml": REPO_CONFIG.replace('origins = ["http://localhost:5173"]', 'origins = ["https://*.com"]') }));
    expect(tld.code).toBe(1);
    expect(tld.out).toContain("CORS.origins[1]");
    const starHeaders = await check(project(context, { "wrangler.toml": REPO_CONFIG.replace('origins = ["http://localhost:5173"]', 'origins = ["http://localhost:5173"]\ncredentials = true\nheaders = ["*"]') }));
    expect(starHeaders.code).toBe(1);
    expect(starHeaders.out).toContain("CORS.headers[1]");
    const noKey = await check(project(context, { "wrangler.toml": REPO_CONFIG.replace('origins = ["http://localhost:5173"]', 'origins = ["http://localhost:5173"]\nheaders = ["Content-Type"]') }));
    expect(noKey.code).toBe(0);
    expect(noKey.out).toMatch(/warning\s+CORS\.headers replaces the default .* browsers cannot send a key/);
    expect(noKey.out).toMatch(/cors\s+http:\/\/localhost:5173 \(every routed method; preflight cached 600s\), request headers Content-Type/);
  });

  it("says CORS is off when the var is absent", async (context) => {
    const run = await check(project(context, { "wrangler.toml": REPO_CONFIG.replace(/\[vars\.CORS\]\norigins = .*\n/, "") }));
    expect(run.code).toBe(0);
    expect(run.out).toMatch(/cors\s+off/);
  });

  it("summarises the leak response and webhooks (SPEC §10) and names a bad LEAKED_KEY_ACTION or WEBHOOK_SECRET", async (context) => {
    const base = await check(project(context, { "wrangler.toml": REPO_CONFIG }));
    expect(base.out).toMatch(/leaked keys\s+revoked when GitHub reports them \(LEAKED_KEY_ACTION\); GitHub's keys from https:\/\/api\.github\.com\/meta\/public_keys\/secret_scanning/);
    expect(base.out).toMatch(/webhooks\s+off \(WEBHOOK_URL is not set\)/);

    const secret = "whsec_" + Buffer.alloc(32, 7).toString("base64");
    const withHooks = REPO_CONFIG.replace('[vars]\n', '[vars]\nWEBHOOK_URL = "https://hooks.example.com/keygate"\nLEAKED_KEY_ACTION = "notify"\n');
    const on = await check(project(context, { "wrangler.toml": withHooks, ".dev.vars": `WEBHOOK_SECRET=${secret}\n` }));
    expect(on.code).toBe(0);
    expect(on.out).toMatch(/leaked keys\s+flagged only \(notify\)/);
    expect(on.out).toMatch(/webhooks\s+https:\/\/hooks\.example\.com\/keygate \(signed with WEBHOOK_SECRET\)/);
    expect(on.out).toMatch(/secrets\s+WEBHOOK_SECRET from \.dev\.vars/);
    expect(on.out).not.toContain(secret);

    const noSecret = await check(project(context, { "wrangler.toml": withHooks }));
    expect(noSecret.code).toBe(1);
    expect(noSecret.out).toContain("WEBHOOK_SECRET is required when WEBHOOK_URL is set");
    const badSecret = await check(project(context, { "wrangler.toml": withHooks, ".dev.vars": "WEBHOOK_SECRET=plain-text-secret\n" }));
    expect(badSecret.out).toContain("WEBHOOK_SECRET must be whsec_");
    const badAction = await check(project(context, { "wrangler.toml": REPO_CONFIG.replace('[vars]\n', '[vars]\nLEAKED_KEY_ACTION = "delete"\n') }));
    expect(badAction.code).toBe(1);
    expect(badAction.out).toContain("LEAKED_KEY_ACTION");
  });

  it("warns that the placeholder D1 and KV ids cannot be deployed", async (context) => {
    const config = project(context, { "wrangler.toml": REPO_CONFIG });
    const run = await check(config);
    expect(run.out).toMatch(/warning\s+D1 DB: database_id is a placeholder/);
    expect(run.out).toMatch(/warning\s+KV KEY_CACHE: id is a placeholder/);
  });

  it("names KEY_PREFIX when the prefix is invalid, with the worker's gateway_misconfigured message", async (context) => {
    const config = project(context, { "wrangler.toml": REPO_CONFIG.replace('KEY_PREFIX = "kg_"', 'KEY_PREFIX = "KG-"') });
    const run = await check(config);
    expect(run.code).toBe(1);
    expect(run.out).toContain("gateway_misconfigured");
    expect(run.out).toContain("gateway configuration is invalid: KEY_PREFIX must be 3-17 characters");
  });

  it("names the tier field when a TIERS entry is invalid", async (context) => {
    const config = project(context, { "wrangler.toml": REPO_CONFIG.replace("free = { limit = 60,", "free = { limit = -5,") });
    const run = await check(config);
    expect(run.code).toBe(1);
    expect(run.out).toContain("gateway configuration is invalid: TIERS.free.limit");
  });

  it("names the route when a rule requires a scope missing from SCOPES", async (context) => {
    const config = project(context, { "wrangler.toml": REPO_CONFIG.replace('scopes = ["demo:write"]', 'scopes = ["demo:delete"]') });
    const run = await check(config);
    expect(run.code).toBe(1);
    // Counted from 1, as the operator counts [[vars.ROUTES]] blocks.
    expect(run.out).toContain('ROUTES[3].scopes[1]: scope "demo:delete" is not in SCOPES');
  });

  it("checks secrets from .dev.vars beside the config", async (context) => {
    const config = project(context, { "wrangler.toml": REPO_CONFIG, ".dev.vars": "ADMIN_TOKEN=short\n" });
    const run = await check(config);
    expect(run.code).toBe(1);
    expect(run.out).toContain("ADMIN_TOKEN must be at least 16 characters");
  });

  it("lists the secrets it found without printing their values", async (context) => {
    const config = project(context, { "wrangler.toml": REPO_CONFIG, ".dev.vars": "ADMIN_TOKEN=a-long-enough-local-token\nORIGIN_SIGNING_SECRET=another-long-secret-value\n" });
    const run = await check(config);
    expect(run.code).toBe(0);
    expect(run.out).toMatch(/secrets\s+ADMIN_TOKEN from \.dev\.vars, ORIGIN_SIGNING_SECRET from \.dev\.vars/);
    expect(run.out).not.toContain("a-long-enough-local-token");
  });

  describe("with --env", () => {
    const staging = (vars: string) => `${REPO_CONFIG}\n[env.staging]\n[env.staging.vars]\n${vars}\n`;

    it("applies the environment's vars the way wrangler does", async (context) => {
      const vars = 'KEY_PREFIX = "st_"\nTIERS = { free = { limit = 5, window = "10s" } }';
      const config = project(context, { "wrangler.toml": staging(vars) });
      const run = await check(config, "staging");
      expect(run.code).toBe(0);
      expect(run.out).toMatch(/key prefix\s+st_/);
      expect(run.out).toMatch(/tiers\s+free 5\/10s \(strict\)\n/);
    });

    it("does not inherit top-level vars into an environment, as wrangler does not", async (context) => {
      const config = project(context, { "wrangler.toml": staging('KEY_PREFIX = "st_"') });
      const run = await check(config, "staging");
      expect(run.code).toBe(1);
      expect(run.out).toContain("gateway configuration is invalid: TIERS");
    });

    it("prefers .dev.vars.<env> over .dev.vars", async (context) => {
      const config = project(context, { "wrangler.toml": staging('TIERS = { free = { limit = 5, window = "10s" } }'), ".dev.vars": "ADMIN_TOKEN=short\n", ".dev.vars.staging": "ADMIN_TOKEN=a-long-enough-staging-token\n" });
      const run = await check(config, "staging");
      expect(run.code).toBe(0);
      expect(run.out).toMatch(/secrets\s+ADMIN_TOKEN from \.dev\.vars\.staging/);
    });

    it("refuses an environment the config does not define", async (context) => {
      const config = project(context, { "wrangler.toml": REPO_CONFIG });
      const run = await check(config, "stagign");
      expect(run.code).toBe(1);
      expect(run.out).toContain("has no [env.stagign] section");
    });
  });

  it("reports a missing config file", async (context) => {
    const run = await check(project(context, {}));
    expect(run.code).toBe(1);
    expect(run.out).toContain("not found");
  });

  it("reports a TOML syntax error as one file:line:column line, without a stack trace or the file's text", async (context) => {
    const broken = REPO_CONFIG.replace('KEY_PREFIX = "kg_"', 'KEY_PREFIX = "kg_');
    const line = broken.split("\n").findIndex((text) => text.startsWith('KEY_PREFIX = "kg_')) + 1;
    const config = project(context, { "wrangler.toml": broken });
    const run = await runScript(["--config", config]);
    expect(run.code).toBe(1);
    expect(run.out.trim().split("\n")).toEqual([expect.stringMatching(new RegExp(`^config INVALID: ${config}:${line}:\\d+: Invalid TOML document`))]);
    expect(run.out).not.toContain("compatibility_date");
  });

  it("lists the allowed values when a var is not one of them", async (context) => {
    const config = project(context, { "wrangler.toml": REPO_CONFIG.replace('RATE_LIMIT_BACKEND = "durable-object"', 'RATE_LIMIT_BACKEND = "redis"') });
    const run = await check(config);
    expect(run.code).toBe(1);
    expect(run.out).toContain('- RATE_LIMIT_BACKEND: must be one of "durable-object", "upstash"');
  });

  it("warns about a misspelt var, which the worker would silently ignore, and suggests the setting", async (context) => {
    const config = project(context, { "wrangler.toml": REPO_CONFIG.replace('RATE_LIMIT_FAILURE_MODE = "closed"', 'RATE_LIMIT_FAILUER_MODE = "open"\norigin_timeout_ms = "5000"\nMY_APP_FLAG = "1"') });
    const run = await check(config);
    expect(run.code).toBe(0);
    expect(run.out).toMatch(/warning\s+\[vars\] RATE_LIMIT_FAILUER_MODE is not a keygate setting and is ignored; did you mean RATE_LIMIT_FAILURE_MODE\?/);
    expect(run.out).toContain("[vars] origin_timeout_ms is not a keygate setting and is ignored; did you mean ORIGIN_TIMEOUT_MS?");
    expect(run.out).toMatch(/\[vars\] MY_APP_FLAG is not a keygate setting and is ignored \(README/);
    expect(run.out).toMatch(/rate limiter\s+durable-object, failure mode closed/);
    const clean = await check(project(context, { "wrangler.toml": REPO_CONFIG }));
    expect(clean.out).not.toContain("is not a keygate setting");
    const devVars = await check(project(context, { "wrangler.toml": REPO_CONFIG, ".dev.vars": "ADMIN_TOKN=a-long-enough-local-token\n" }));
    expect(devVars.out).toContain(".dev.vars ADMIN_TOKN is not a keygate setting and is ignored; did you mean ADMIN_TOKEN?");
    expect(devVars.out).not.toContain("a-long-enough-local-token");
  });

  it("warns about a secret written into [vars], and --deploy refuses it, without printing its value", async (context) => {
    const config = project(context, { "wrangler.toml": REPO_CONFIG.replace('KEY_PREFIX = "kg_"', 'KEY_PREFIX = "kg_"\nADMIN_TOKEN = "committed-operator-token-0123"') });
    const run = await check(config);
    expect(run.code).toBe(0);
    expect(run.out).toMatch(/warning\s+ADMIN_TOKEN is in \[vars\] of wrangler.toml, where it is committed/);
    expect(run.out).not.toContain("committed-operator-token-0123");
    const deploy = await check(config, undefined, { deploy: true });
    expect(deploy.code).toBe(1);
    expect(deploy.out).toMatch(/- ADMIN_TOKEN is in \[vars\] of wrangler.toml/);
    expect(deploy.out.split("ADMIN_TOKEN is in [vars]").length).toBe(2);
  });

  it("warns about a shared secret with whitespace at either end, without printing it", async (context) => {
    const config = project(context, { "wrangler.toml": REPO_CONFIG, ".dev.vars": 'ORIGIN_SIGNING_SECRET="origin-signing-secret-0123 "\n' });
    const run = await check(config);
    expect(run.code).toBe(0);
    expect(run.out).toMatch(/warning\s+ORIGIN_SIGNING_SECRET starts or ends with whitespace \(from \.dev\.vars\)/);
    expect(run.out).not.toContain("origin-signing-secret-0123");
  });

  it("names a directory given as --config instead of reporting a config without TIERS", async (context) => {
    const config = project(context, { "wrangler.toml": REPO_CONFIG });
    const run = await check(dirname(config));
    expect(run.code).toBe(1);
    expect(run.out.trim()).toBe(`config INVALID: ${dirname(config)} is a directory; give the wrangler.toml file (--config ${config})`);
  });

  it("warns about a route under keygate's own prefixes, which no request ever reaches", async (context) => {
    const rules = ['[[vars.ROUTES]]\nmethod = "GET"\npath = "/_keygate/v1/orgs"\nscopes = []', '[[vars.ROUTES]]\npath = "/_keygate/console/*"\nscopes = []', '[[vars.ROUTES]]\npath = "/_keygate/v1x/:id"\nscopes = []'];
    const run = await check(project(context, { "wrangler.toml": `${REPO_CONFIG}\n${rules.join("\n")}\n` }));
    expect(run.code).toBe(0);
    expect(run.out).toMatch(/warning\s+ROUTES\[\d+\] \(GET \/_keygate\/v1\/orgs\) is never used: \/_keygate belongs to keygate itself/);
    expect(run.out).toMatch(/warning\s+ROUTES\[\d+\] \(\* \/_keygate\/console\/\*\) is never used: \/_keygate belongs to keygate itself/);
    expect(run.out).toMatch(/warning\s+ROUTES\[\d+\] \(\* \/_keygate\/v1x\/:id\) is never used: \/_keygate belongs/);
    expect(run.out).not.toMatch(/\/demo\/\*\) is never used: \/_keygate/);
  });

  it("says a missing TIERS is required, not that it has the wrong type", async (context) => {
    const withoutTiers = REPO_CONFIG.replace(/\[vars\.TIERS\][\s\S]*?\n\n/, "\n");
    const run = await check(project(context, { "wrangler.toml": withoutTiers }));
    expect(run.code).toBe(1);
    expect(run.out).toContain('- TIERS: is required (README "Configuration")');
  });

  it("refuses a number var that is not plain digits instead of reading it as another number", async (context) => {
    const config = project(context, { "wrangler.toml": REPO_CONFIG.replace('ORIGIN_TIMEOUT_MS = "10000"', 'ORIGIN_TIMEOUT_MS = "1e4"') });
    const run = await check(config);
    expect(run.code).toBe(1);
    expect(run.out).toContain('- ORIGIN_TIMEOUT_MS: "1e4" is not a whole number of milliseconds from 1 to 2147483647');
  });

  it("refuses an operator token in .dev.vars that no Authorization header could carry, without printing it", async (context) => {
    const config = project(context, { "wrangler.toml": REPO_CONFIG, ".dev.vars": "ADMIN_TOKEN=correct horse battery staple\n" });
    const run = await check(config);
    expect(run.code).toBe(1);
    expect(run.out).toContain("- ADMIN_TOKEN: must be visible ASCII characters only (no spaces, line breaks or non-ASCII)");
    expect(run.out).not.toContain("battery");
  });

  it("passes on what wrangler itself refuses in the file, without a stack trace", async (context) => {
    const config = project(context, { "wrangler.toml": REPO_CONFIG.replace('binding = "DB"', 'bindingx = "DB"') });
    const run = await check(config);
    expect(run.code).toBe(1);
    expect(run.out).toContain('"d1_databases[0]" bindings should have a string "binding" field');
    expect(run.out).not.toMatch(/\n\s+at /);
  });

  it("gives the line and column of a JSON var that does not parse", async (context) => {
    const config = project(context, { "wrangler.toml": `${REPO_CONFIG}\n[env.json]\n[env.json.vars]\nTIERS = '{"free": {"limit": 5,}}'\n` });
    const run = await check(config, "json");
    expect(run.code).toBe(1);
    expect(run.out).toContain("- TIERS: is not valid JSON (line 1, column 22)");
  });

  describe("route rules", () => {
    const withRoutes = (rules: string) => REPO_CONFIG.slice(0, REPO_CONFIG.indexOf("[[vars.ROUTES]]")) + rules;

    it("says that a rule with scopes = [] lets any valid key in, and is not public", async (context) => {
      const config = project(context, { "wrangler.toml": withRoutes('[[vars.ROUTES]]\nmethod = "GET"\npath = "/status"\nscopes = []\n') });
      const run = await check(config);
      expect(run.code).toBe(0);
      expect(run.out).toMatch(/note\s+ROUTES\[1\] \(GET \/status\) has scopes = \[\]: any valid key may call it \(it is not public/);
    });

    it("warns about a rule an earlier, broader rule makes dead, naming both", async (context) => {
      const rules = [
        '[[vars.ROUTES]]\nmethod = "GET"\npath = "/items/:id"\nscopes = ["demo:read"]',
        '[[vars.ROUTES]]\nmethod = "GET"\npath = "/items/admin"\nscopes = ["demo:write"]',
        '[[vars.ROUTES]]\nmethod = "POST"\npath = "/items/admin"\nscopes = ["demo:write"]',
      ].join("\n\n");
      const run = await check(project(context, { "wrangler.toml": withRoutes(rules) }));
      expect(run.code).toBe(0);
      expect(run.out).toContain("warning        ROUTES[2] (GET /items/admin) is never used: ROUTES[1] (GET /items/:id) comes first and matches every request it would");
      expect(run.out).not.toContain("ROUTES[3] (POST");
    });

    it("decides coverage the way the route policy matches", () => {
      expect(pathCovers("/items/*", "/items")).toBe(true);
      expect(pathCovers("/items/*", "/items/a/:b/*")).toBe(true);
      expect(pathCovers("/items/:id", "/items/admin")).toBe(true);
      expect(pathCovers("/items/:id", "/items/*")).toBe(false);
      expect(pathCovers("/items/admin", "/items/:id")).toBe(false);
      expect(pathCovers("/items/:id", "/items/a/b")).toBe(false);
      expect(pathCovers("/*", "/")).toBe(true);
      expect(pathCovers("/", "/a")).toBe(false);
    });
  });

  it("warns when orgs in the local D1 use a tier that is not in TIERS", async (context) => {
    const config = project(context, { "wrangler.toml": REPO_CONFIG });
    const dir = join(dirname(config), ".wrangler", "state", "v3", "d1", "miniflare-D1DatabaseObject");
    mkdirSync(dir, { recursive: true });
    // node:sqlite's "experimental" warning is noise in the test output, as check-config itself keeps it out.
    const emitWarning = process.emitWarning;
    process.emitWarning = () => undefined;
    const { DatabaseSync } = process.getBuiltinModule("node:sqlite");
    process.emitWarning = emitWarning;
    const db = new DatabaseSync(join(dir, "local.sqlite"));
    db.exec(`CREATE TABLE orgs (id TEXT PRIMARY KEY, tier TEXT NOT NULL);
      CREATE TABLE api_keys (id TEXT PRIMARY KEY, org_id TEXT NOT NULL, rate_limit TEXT, revoked_at INTEGER);
      INSERT INTO orgs VALUES ('org_a', 'free'), ('org_b', 'doomed'), ('org_c', 'doomed');
      INSERT INTO api_keys VALUES ('key_1', 'org_b', '{"limit":5,"window":1000}', NULL), ('key_2', 'org_c', NULL, NULL);`);
    db.close();
    const run = await check(config);
    expect(run.code).toBe(0);
    expect(run.out).toContain('warning        tier "doomed" is not in TIERS but 2 orgs in the local D1 use it (1 active key with its own rate_limit among them)');
    expect(run.out).not.toContain('tier "free"');
  });

  describe("with --deploy", () => {
    const deployable = REPO_CONFIG.replace("00000000-0000-0000-0000-000000000000", "6f1c9a52-8d3e-4b7a-9c21-0e5f4d3b2a19")
      .replace("00000000000000000000000000000000", "a3c9e1f07b2d4c6e8f1a0b3d5e7c9f21")
      .replace('ORIGIN_URL = "http://127.0.0.1:8788"', 'ORIGIN_URL = "https://origin.example.com"');
    const secrets = { ADMIN_TOKEN: "a-long-enough-production-token" };

    it("passes a config with real ids, a public origin and its secrets, and names the secrets the Worker must hold", async (context) => {
      const run = await check(project(context, { "wrangler.toml": deployable }), undefined, { deploy: true, environment: secrets });
      expect(run.code).toBe(0);
      expect(run.out).toContain("deploy check OK");
      expect(run.out).not.toContain("plain http");
      expect(run.out).toContain("the Worker must also hold the secrets ADMIN_TOKEN");
      expect(run.out).not.toContain(secrets.ADMIN_TOKEN);
    });

    it("fails on placeholder ids, a loopback origin and a missing ADMIN_TOKEN", async (context) => {
      const run = await check(project(context, { "wrangler.toml": REPO_CONFIG }), undefined, { deploy: true });
      expect(run.code).toBe(1);
      expect(run.out).toContain("config NOT READY TO DEPLOY");
      expect(run.out).toContain("- D1 DB: database_id is a placeholder");
      expect(run.out).toContain("- KV KEY_CACHE: id is a placeholder");
      expect(run.out).toContain("- ORIGIN_URL http://127.0.0.1:8788 is a loopback or private address");
      expect(run.out).toContain("- secret ADMIN_TOKEN is required but is neither in the environment nor in .dev.vars");
      expect(run.out).toContain("wrangler secret put ADMIN_TOKEN");
    });

    it("fails on a private origin, and names the Upstash secrets the Worker needs when that backend is chosen", async (context) => {
      const privateOrigin = deployable.replace('"https://origin.example.com"', '"http://10.0.3.7:8080"');
      const run = await check(project(context, { "wrangler.toml": privateOrigin }), undefined, { deploy: true, environment: secrets });
      expect(run.code).toBe(1);
      expect(run.out).toContain("- ORIGIN_URL http://10.0.3.7:8080 is a loopback or private address");
      expect(run.out).toMatch(/warning\s+ORIGIN_URL http:\/\/10\.0\.3\.7:8080 is plain http/);
      const upstash = deployable.replace('RATE_LIMIT_BACKEND = "durable-object"', 'RATE_LIMIT_BACKEND = "upstash"');
      const environment = { ...secrets, UPSTASH_REDIS_REST_URL: "https://eu1-x.upstash.io", UPSTASH_REDIS_REST_TOKEN: "upstash-token" };
      const ok = await check(project(context, { "wrangler.toml": upstash }), "", { deploy: true, environment });
      expect(ok.code).toBe(0);
      expect(ok.out).toContain("the Worker must also hold the secrets ADMIN_TOKEN, UPSTASH_REDIS_REST_URL, UPSTASH_REDIS_REST_TOKEN");
      expect(ok.out).not.toContain("upstash-token");
    });

    it("refuses GitHub's keys from plain http or a private host, and a private WEBHOOK_URL; warns about an http one", async (context) => {
      const webhook = `WEBHOOK_URL = "http://10.0.0.9/hooks"\nGITHUB_SECRET_SCANNING_KEYS_URL = "http://keys.example.com/secret_scanning"`;
      const environment = { ...secrets, WEBHOOK_SECRET: `whsec_${"A".repeat(44)}` };
      const run = await check(project(context, { "wrangler.toml": deployable.replace('KEY_PREFIX = "kg_"', `KEY_PREFIX = "kg_"\n${webhook}`) }), undefined, { deploy: true, environment });
      expect(run.code).toBe(1);
      expect(run.out).toContain("- GITHUB_SECRET_SCANNING_KEYS_URL http://keys.example.com must be a public https URL");
      expect(run.out).toContain("- WEBHOOK_URL http://10.0.0.9 is a loopback or private address");
      expect(run.out).toMatch(/warning\s+WEBHOOK_URL http:\/\/10\.0\.0\.9 is plain http/);
      const local = await check(project(context, { "wrangler.toml": REPO_CONFIG.replace('KEY_PREFIX = "kg_"', `KEY_PREFIX = "kg_"\n${webhook}`) }), undefined, { environment });
      expect(local.code).toBe(0);
      expect(local.out).not.toContain("GITHUB_SECRET_SCANNING_KEYS_URL http://");
    });

    it("tells loopback and private hosts from public ones", () => {
      for (const host of ["localhost", "api.localhost", "127.0.0.1", "10.1.2.3", "172.20.0.1", "192.168.1.1", "169.254.169.254", "100.64.0.1", "[::1]", "[fd00::1]", "[fe80::1]", "[::ffff:10.0.0.1]", "printer.local", "0.0.0.0"]) {
        expect(isLocalHost(host), host).toBe(true);
      }
      for (const host of ["origin.example.com", "8.8.8.8", "172.32.0.1", "[2606:4700::1111]", "localhost.example.com"]) {
        expect(isLocalHost(host), host).toBe(false);
      }
    });
  });
});

// The command itself, in its own process as an operator runs it: flags, output streams and exit codes.
describe("the check-config command", () => {
  it("exits 0 and prints the summary for a valid config", async (context) => {
    const run = await runScript(["--config", project(context, { "wrangler.toml": REPO_CONFIG })]);
    expect(run.code).toBe(0);
    expect(run.out).toContain("config OK");
  });

  it("exits 1 with the field named for an invalid environment config", async (context) => {
    const config = project(context, { "wrangler.toml": `${REPO_CONFIG}\n[env.prod]\n[env.prod.vars]\nTIERS = { free = { limit = 0, window = "1m" } }\n` });
    const run = await runScript(["--config", config, "--env", "prod"]);
    expect(run.code).toBe(1);
    expect(run.out).toContain("config INVALID");
    expect(run.out).toContain("TIERS.free.limit");
  });
});
