// The workers project's global setup (test/global-setup.ts) when redis-server cannot start: the run fails with
// the reason and exits, instead of hanging on the demo origin it had already started.
import { spawn } from "node:child_process";
import { once } from "node:events";
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { delimiter, join } from "node:path";
import { describe, expect, it } from "vitest";
import { ROOT } from "./npm-start.ts";

describe("the test suite's global setup", () => {
  it("stops what it started when a later step fails, so vitest exits instead of timing out on close", async (context) => {
    const dir = mkdtempSync(join(tmpdir(), "keygate-fake-redis-"));
    context.onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
    writeFileSync(join(dir, "redis-server"), "#!/bin/sh\necho 'fake redis-server refuses to start' >&2\nexit 1\n");
    chmodSync(join(dir, "redis-server"), 0o755);

    // A nested vitest run of one small file; none of this run's own VITEST_* state leaks into it.
    const env = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith("VITEST") && name !== "TEST" && name !== "NODE_ENV"));
    const child = spawn(process.execPath, [join(ROOT, "node_modules", "vitest", "vitest.mjs"), "run", "test/smoke/health.test.ts"], {
      cwd: ROOT,
      env: { ...env, CI: "true", FORCE_COLOR: "0", PATH: `${dir}${delimiter}${process.env.PATH}` },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString()));
    const [code] = await once(child, "exit");
    expect(output).toContain("fake redis-server refuses to start");
    expect(output).not.toContain("close timed out");
    expect(output).not.toContain("prevents");
    expect(code).toBe(1);
  }, 60_000);
});
