// `keygate`: the operator CLI for the management API (SPEC §12). Talks to /_keygate/v1 only.
import { readFileSync } from "node:fs";
import { Command, CommanderError } from "commander";
import { ApiError } from "./api.ts";
import { registerAudit } from "./commands/audit.ts";
import { registerKeys } from "./commands/keys.ts";
import { registerOrgs } from "./commands/orgs.ts";
import { runner } from "./commands/runner.ts";
import type { Io } from "./context.ts";
import { CliError, EXIT } from "./errors.ts";
import { printable } from "./render.ts";
import { redactSecrets, tokensOf } from "./secrets.ts";

const ENVIRONMENT_HELP = `
Environment:
  KEYGATE_URL    the gateway, e.g. https://keygate.example.workers.dev (or --url)
  KEYGATE_TOKEN  the operator's ADMIN_TOKEN, or an org key with keys:read/keys:write/audit:read (or --token;
                 prefer the variable: a --token is visible to other users of the machine in its process list)

Exit codes: 0 done, 1 the API refused (its code and message on stderr) or could not be reached, 2 usage error.`;

/** The checkout's own version: `keygate --version` names what an operator is running. */
const VERSION = (JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as { version: string }).version;

export function buildProgram(io: Io, redact: (text: string) => string = (text) => text): Command {
  const program = new Command("keygate")
    .description("Manage a keygate gateway's orgs, API keys and audit trail from the terminal.")
    .version(VERSION, "-V, --version", "print the CLI's version")
    .option("--url <url>", "gateway URL (default: $KEYGATE_URL)")
    .option("--token <token>", "operator token or org key (default: $KEYGATE_TOKEN)")
    .option("--json", "print the response's data as JSON (for scripts); notes go to stderr")
    // Set before any subcommand exists: commander copies these into every subcommand.
    .exitOverride()
    .configureHelp({ showGlobalOptions: true })
    .showHelpAfterError("(add --help for usage)")
    .configureOutput({
      writeOut: (text) => io.stdout.write(text),
      writeErr: (text) => io.stderr.write(text),
      // Commander quotes the offending value ("unknown command 'kg_…'", "argument 'kg_…' is invalid"): it may be a key.
      outputError: (text, write) => write(redact(text)),
    })
    .addHelpText("after", ENVIRONMENT_HELP);
  const run = runner(io);
  registerOrgs(program, run);
  registerKeys(program, run);
  registerAudit(program, run);
  return program;
}

/** Runs one command line; returns the exit code. */
export async function main(argv: string[], io: Io): Promise<number> {
  const tokens = tokensOf(argv, io.env);
  const redact = (text: string) => redactSecrets(text, tokens);
  const program = buildProgram(io, redact);
  try {
    await program.parseAsync(argv, { from: "user" });
    return EXIT.ok;
  } catch (err) {
    return reportFailure(err, { ...io, stderr: redactingStream(io.stderr, redact) });
  }
}

/** stderr for failure reports: whatever they quote (an API message echoing an id, a value) goes out without a key or token. */
function redactingStream(stream: NodeJS.WriteStream, redact: (text: string) => string): NodeJS.WriteStream {
  return { write: (text: string) => stream.write(redact(text)) } as NodeJS.WriteStream;
}

function reportFailure(err: unknown, io: Io): number {
  // Commander has already printed its message (or the help it was asked for).
  if (err instanceof CommanderError) return err.exitCode === 0 ? EXIT.ok : EXIT.usage;
  if (err instanceof ApiError) {
    // The message and details may quote what a caller typed (a key name, a meta field): printed, never obeyed.
    io.stderr.write(`error: ${printable(err.code)}: ${printable(err.message)}\n`);
    for (const detail of err.details) io.stderr.write(`  ${printable(String(detail.field))}: ${printable(String(detail.message))}\n`);
    return err.exitCode;
  }
  if (err instanceof CliError) {
    io.stderr.write(`error: ${err.message}\n`);
    return err.exitCode;
  }
  // A bug or an answer no check foresaw: one line and exit 1, not a stack trace that may quote what was being handled.
  io.stderr.write(`error: unexpected failure: ${printable(err instanceof Error ? err.message : String(err))}\n`);
  return EXIT.api;
}
