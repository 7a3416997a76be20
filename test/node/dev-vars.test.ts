import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { resolveAdminToken } from "../../scripts/dev-vars.ts";

describe("npm start's operator token", () => {
  let dir: string;
  let devVars: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "keygate-devvars-"));
    devVars = join(dir, ".dev.vars");
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it("takes ADMIN_TOKEN from the environment over .dev.vars", () => {
    writeFileSync(devVars, "ADMIN_TOKEN=from-the-file-0123456789\n");
    expect(resolveAdminToken(devVars, { ADMIN_TOKEN: "from-the-env-0123456789" })).toEqual({ token: "from-the-env-0123456789", source: "environment" });
  });

  it("reads ADMIN_TOKEN from .dev.vars when the environment has none", () => {
    writeFileSync(devVars, '# local secrets\nORIGIN_SIGNING_SECRET=abc\nADMIN_TOKEN="quoted-token-0123456789"\n');
    expect(resolveAdminToken(devVars, {})).toEqual({ token: "quoted-token-0123456789", source: "dev-vars" });
  });

  it("creates .dev.vars with a random base64url token on a fresh clone, readable by its owner only", () => {
    const first = resolveAdminToken(devVars, {});
    expect(first.source).toBe("created");
    expect(first.token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(statSync(devVars).mode & 0o777).toBe(0o600);
    expect(resolveAdminToken(devVars, {})).toEqual({ token: first.token, source: "dev-vars" });
  });

  it("gives every fresh clone a different token", () => {
    const a = resolveAdminToken(devVars, {}).token;
    rmSync(devVars);
    expect(resolveAdminToken(devVars, {}).token).not.toBe(a);
  });

  it("adds a token to an existing .dev.vars without touching its other secrets", () => {
    writeFileSync(devVars, "ORIGIN_SIGNING_SECRET=keep-me-0123456789");
    const { token, source } = resolveAdminToken(devVars, {});
    expect(source).toBe("created");
    const text = readFileSync(devVars, "utf8");
    expect(text).toContain("ORIGIN_SIGNING_SECRET=keep-me-0123456789\n");
    expect(text).toContain(`ADMIN_TOKEN=${token}\n`);
  });

  it("ignores an empty ADMIN_TOKEN in the environment", () => {
    writeFileSync(devVars, "ADMIN_TOKEN=from-the-file-0123456789\n");
    expect(resolveAdminToken(devVars, { ADMIN_TOKEN: "" }).source).toBe("dev-vars");
  });
});
