// README "In front of an existing hostname": its [env.production] block, appended to the repository's
// wrangler.toml, passes the strict pre-deploy check and bundles with `wrangler deploy --dry-run` (offline).
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ROOT } from "./npm-start.ts";

const WRANGLER = join(ROOT, "node_modules", "wrangler", "bin", "wrangler.js");

function run(args: string[], cwd: string, env: Record<string, string> = {}): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, args, { cwd, env: { ...process.env, FORCE_COLOR: "0", WRANGLER_SEND_METRICS: "false", ...env } }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === "number" ? err.code : 1) : 0, out: stdout + stderr });
    });
  });
}

/** The ```toml block right after the `<!-- production-example -->` marker. */
function productionExample(): string {
  const readme = readFileSync(join(ROOT, "README.md"), "utf8");
  const marker = readme.indexOf("<!-- production-example -->");
  expect(marker).toBeGreaterThan(0);
  const start = readme.indexOf("```toml\n", marker) + "```toml\n".length;
  return readme.slice(start, readme.indexOf("```", start));
}

describe("the README's production deploy recipe", () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "keygate-deploy-"));
    // The repository's config with paths made absolute, so the copy builds this checkout's worker.
    const repo = readFileSync(join(ROOT, "wrangler.toml"), "utf8")
      .replace('main = "src/index.ts"', `main = ${JSON.stringify(join(ROOT, "src", "index.ts"))}`)
      .replaceAll('migrations_dir = "drizzle"', `migrations_dir = ${JSON.stringify(join(ROOT, "drizzle"))}`);
    writeFileSync(join(dir, "wrangler.toml"), `${repo}\n${productionExample().replaceAll('migrations_dir = "drizzle"', `migrations_dir = ${JSON.stringify(join(ROOT, "drizzle"))}`)}`);
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("passes check-config --env production --deploy", async () => {
    const { code, out } = await run([join(ROOT, "scripts", "check-config.ts"), "--config", join(dir, "wrangler.toml"), "--env", "production", "--deploy"], dir, { ADMIN_TOKEN: "a-long-enough-production-token" });
    expect(out).toContain("deploy check OK");
    expect(out).toMatch(/origin\s+https:\/\/origin\.example\.com\//);
    expect(code).toBe(0);
  });

  it("bundles with wrangler deploy --env production --dry-run, with every binding keygate needs", async () => {
    const { code, out } = await run([WRANGLER, "deploy", "--env", "production", "--dry-run", "--outdir", join(dir, "dist")], dir);
    expect(out).toContain("--dry-run: exiting now.");
    for (const binding of ["env.RATE_LIMITER (RateLimiterObject)", "env.KEY_CACHE", "env.USAGE_QUEUE (keygate-usage-production)", "env.DB (keygate-production)", 'env.ORIGIN_URL ("https://origin.example.com")']) {
      expect(out).toContain(binding);
    }
    // Every var is repeated in the environment: wrangler has nothing to warn about.
    expect(out).not.toContain("not inherited by environments");
    expect(code).toBe(0);
  }, 60_000);
});
