// test/system-programs.ts as `npm test` runs it, on a PATH of fakes: which programs exist and what apt-get does.
import { spawnSync } from "node:child_process";
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it, type TestContext } from "vitest";
import { installCommand, missingPrograms, SYSTEM_PROGRAMS, skipLine } from "../system-programs.ts";

const SCRIPT = fileURLToPath(new URL("../system-programs.ts", import.meta.url));
const debian = existsSync("/etc/debian_version") && process.platform === "linux" && process.getuid?.() === 0;

/** A directory to use as the whole PATH, holding executable shell scripts with the given bodies. */
function fakePath(context: TestContext, programs: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), "keygate-path-"));
  context.onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
  for (const [name, body] of Object.entries(programs)) {
    writeFileSync(join(dir, name), `#!/bin/sh\n${body}\n`);
    chmodSync(join(dir, name), 0o755);
  }
  return dir;
}

function precheck(path: string, env: Record<string, string> = {}) {
  const { CI: _ci, ...rest } = process.env;
  const run = spawnSync(process.execPath, [SCRIPT], { env: { ...rest, PATH: path, ...env }, encoding: "utf8" });
  return { code: run.status, out: run.stdout + run.stderr };
}

describe("the system programs npm test needs", () => {
  it("lists redis-server for the Upstash suites and chromium for the console's browser tests", () => {
    const byName = Object.fromEntries(SYSTEM_PROGRAMS.map((entry) => [entry.program, entry]));
    expect(byName["redis-server"]!.neededBy).toContain("test/ratelimit/conformance.test.ts");
    expect(byName["chromium"]!.neededBy).toContain("test/console/browser.test.ts");
  });

  it("says nothing and goes on when every program is installed", (context) => {
    const path = fakePath(context, { "redis-server": "exit 0", chromium: "exit 0" });
    expect(missingPrograms(path)).toEqual([]);
    expect(precheck(path)).toEqual({ code: 0, out: "" });
  });

  it("names the skipped suites and the exact install command in one line", () => {
    const missing = SYSTEM_PROGRAMS.filter((entry) => entry.program === "redis-server");
    const line = skipLine(missing);
    expect(line.split("\n")).toHaveLength(1);
    expect(line).toContain("test/ratelimit/conformance.test.ts");
    expect(installCommand(missing, "linux")).toBe("sudo apt-get install -y redis-server");
    expect(installCommand(SYSTEM_PROGRAMS, "darwin")).toBe("brew install redis && brew install --cask chromium");
  });

  it("skips, loudly, when it cannot install and this is not CI", (context) => {
    const path = fakePath(context, { chromium: "exit 0" });
    const run = precheck(path);
    expect(run.code).toBe(0);
    expect(run.out).toContain("SKIPPED (redis-server not installed)");
    expect(run.out).toContain("install with: sudo apt-get install -y redis-server");
  });

  it("fails the run under CI=true when a program is missing", (context) => {
    const path = fakePath(context, { chromium: "exit 0" });
    const run = precheck(path, { CI: "true" });
    expect(run.code).toBe(1);
    expect(run.out).toContain("redis-server not installed and CI=true");
  });

  it.skipIf(!debian)("installs a missing program with apt-get as root on Debian, saying so", (context) => {
    // A fake apt-get that logs its arguments and "installs" by creating the program on PATH.
    const dir = fakePath(context, { chromium: "exit 0" });
    const log = join(dir, "apt.log");
    writeFileSync(join(dir, "apt-get"), `#!/bin/sh\necho "$@" >> ${log}\ncase "$1" in install) printf '#!/bin/sh\\n' > ${dir}/redis-server; /bin/chmod +x ${dir}/redis-server;; esac\nexit 0\n`);
    chmodSync(join(dir, "apt-get"), 0o755);
    const run = precheck(dir);
    expect(run.code).toBe(0);
    expect(run.out).toContain("redis-server missing; installing redis-server with apt-get");
    expect(run.out).not.toContain("SKIPPED");
    expect(readFileSync(log, "utf8")).toBe("--version\nupdate -qq\ninstall -y -qq --no-install-recommends redis-server\n");
  });
});
