import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it, type TestContext } from "vitest";
import { checkConfig } from "../../scripts/check-config.ts";

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
async function check(config: string, env?: string): Promise<Run> {
  let out = "";
  const collect = (line: string) => void (out += line + "\n");
  const code = await checkConfig(config, env, { log: collect, error: collect });
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
    expect(run.out).toMatch(/cors\s+http:\/\/localhost:5173 \(every routed method; preflight cached 600s\)/);
  });

  it("names the CORS origin that is not an origin, and refuses '*' with credentials", async (context) => {
    const withPath = await check(project(context, { "wrangler.toml": REPO_CONFIG.replace('origins = ["http://localhost:5173"]', 'origins = ["http://localhost:5173/app"]') }));
    expect(withPath.code).toBe(1);
    expect(withPath.out).toContain("CORS.origins.0");
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

  it("says CORS is off when the var is absent", async (context) => {
    const run = await check(project(context, { "wrangler.toml": REPO_CONFIG.replace(/\[vars\.CORS\]\norigins = .*\n/, "") }));
    expect(run.code).toBe(0);
    expect(run.out).toMatch(/cors\s+off/);
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
    expect(run.out).toContain('ROUTES.2.scopes.0 scope "demo:delete" is not in SCOPES');
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
    expect(run.out).toMatch(/secrets\s+ADMIN_TOKEN, ORIGIN_SIGNING_SECRET from \.dev\.vars/);
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
