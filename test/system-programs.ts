// The programs outside npm that some test suites need, and how `npm test` gets them on a fresh machine.
// `npm test` runs this file first (before the typecheck), so a missing program is known in a second:
//   - Debian/Ubuntu as root or with passwordless sudo: apt-get installs it, saying so;
//   - macOS with Homebrew: brew installs it;
//   - otherwise the suites that need it are skipped (vitest.config.ts excludes them) with one loud line
//     naming the install command, except under CI=true, where a missing program fails the run.
import { spawnSync } from "node:child_process";
import { accessSync, constants, existsSync } from "node:fs";
import { delimiter, isAbsolute, join } from "node:path";

export interface SystemProgram {
  /** The executable looked up on PATH. */
  program: string;
  /** Other names or absolute paths that also count (e.g. Homebrew's cask installs an app bundle, not a PATH entry). */
  also?: string[];
  /** Debian/Ubuntu package. */
  debian: string;
  /** Homebrew formula (or `--cask name`). */
  brew: string;
  /** Test files (vitest globs, relative to the repository) that cannot run without it. */
  neededBy: string[];
}

export const SYSTEM_PROGRAMS: SystemProgram[] = [
  {
    program: "redis-server",
    debian: "redis-server",
    brew: "redis",
    // The Upstash backend's tests: a real redis-server behind the Upstash REST bridge (test/node/upstash-bridge.ts).
    neededBy: ["test/ratelimit/bridge.test.ts", "test/ratelimit/conformance.test.ts", "test/ratelimit/failure_modes.test.ts", "test/ratelimit/gateway.test.ts"],
  },
  {
    program: "chromium",
    also: ["chromium-browser", "/Applications/Chromium.app/Contents/MacOS/Chromium"],
    debian: "chromium",
    brew: "--cask chromium",
    // The operator console's browser tests drive a headless Chromium.
    neededBy: ["test/console/browser.test.ts"],
  },
];

/** The program's full path, or undefined when neither it nor any alternative is installed. */
export function findProgram(entry: SystemProgram, path = process.env.PATH ?? ""): string | undefined {
  for (const name of [entry.program, ...(entry.also ?? [])]) {
    const candidates = isAbsolute(name) ? [name] : path.split(delimiter).filter(Boolean).map((dir) => join(dir, name));
    for (const candidate of candidates) {
      try {
        accessSync(candidate, constants.X_OK);
        return candidate;
      } catch {
        // not here
      }
    }
  }
  return undefined;
}

export function missingPrograms(path?: string): SystemProgram[] {
  return SYSTEM_PROGRAMS.filter((entry) => findProgram(entry, path) === undefined);
}

export type Installer = "apt-get" | "sudo apt-get" | "brew" | undefined;

/** How this machine can install packages without asking anyone: apt-get as root or via passwordless sudo, or Homebrew. */
export function installerHere(): Installer {
  const has = (command: string, args: string[]) => spawnSync(command, args, { stdio: "ignore" }).status === 0;
  if (process.platform === "darwin") return has("brew", ["--version"]) ? "brew" : undefined;
  if (process.platform !== "linux" || !existsSync("/etc/debian_version") || !has("apt-get", ["--version"])) return undefined;
  if (process.getuid?.() === 0) return "apt-get";
  return has("sudo", ["-n", "true"]) ? "sudo apt-get" : undefined;
}

/** The exact command a person runs to install the given programs on this kind of machine. */
export function installCommand(missing: SystemProgram[], platform = process.platform): string {
  if (platform === "darwin") {
    const formulas = missing.filter((entry) => !entry.brew.startsWith("--cask")).map((entry) => entry.brew);
    const casks = missing.filter((entry) => entry.brew.startsWith("--cask")).map((entry) => entry.brew.replace("--cask ", ""));
    return [formulas.length && `brew install ${formulas.join(" ")}`, casks.length && `brew install --cask ${casks.join(" ")}`].filter(Boolean).join(" && ");
  }
  return `sudo apt-get install -y ${missing.map((entry) => entry.debian).join(" ")}`;
}

/** The one loud line for suites skipped because a program is missing. */
export function skipLine(missing: SystemProgram[]): string {
  const names = missing.map((entry) => entry.program).join(", ");
  const suites = missing.flatMap((entry) => entry.neededBy).join(", ");
  return `!!! SKIPPED (${names} not installed): ${suites} — install with: ${installCommand(missing)}`;
}

function run(command: string, args: string[]): boolean {
  console.log(`keygate tests: $ ${[command, ...args].join(" ")}`);
  return spawnSync(command, args, { stdio: "inherit", env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" } }).status === 0;
}

function install(missing: SystemProgram[], installer: NonNullable<Installer>): void {
  const names = missing.map((entry) => entry.program).join(", ");
  if (installer === "brew") {
    console.log(`keygate tests: ${names} missing; installing with Homebrew`);
    for (const entry of missing) run("brew", ["install", ...entry.brew.split(" ")]);
    return;
  }
  const [command, prefix] = installer === "sudo apt-get" ? ["sudo", ["-n", "apt-get"]] : ["apt-get", []];
  console.log(`keygate tests: ${names} missing; installing ${missing.map((entry) => entry.debian).join(" ")} with ${installer}`);
  if (!run(command, [...prefix, "update", "-qq"])) return;
  run(command, [...prefix, "install", "-y", "-qq", "--no-install-recommends", ...missing.map((entry) => entry.debian)]);
}

/** Installs what it can; returns the exit code for `npm test` to go on (0) or stop (1, CI only). */
export function provision(): number {
  let missing = missingPrograms();
  if (missing.length === 0) return 0;
  const installer = installerHere();
  if (installer) {
    install(missing, installer);
    missing = missingPrograms();
    if (missing.length === 0) return 0;
  }
  if (process.env.CI === "true") {
    console.error(`keygate tests: FAILED: ${missing.map((entry) => entry.program).join(", ")} not installed and CI=true; install with: ${installCommand(missing)}`);
    return 1;
  }
  console.error(`keygate tests: ${skipLine(missing)}`);
  return 0;
}

if (import.meta.main) process.exit(provision());
