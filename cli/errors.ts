/** Exit codes (SPEC §12): 0 ok, 1 the API refused or could not be reached, 2 the command line is wrong. */
export const EXIT = { ok: 0, api: 1, usage: 2 } as const;

/** A failure the CLI reports in one line on stderr, then exits with `exitCode`. */
export class CliError extends Error {
  readonly exitCode: number;

  constructor(message: string, exitCode: number) {
    super(message);
    this.name = "CliError";
    this.exitCode = exitCode;
  }
}

/** The command line is wrong or incomplete: exit 2, like commander's own usage errors. */
export class UsageError extends CliError {
  constructor(message: string) {
    super(message, EXIT.usage);
    this.name = "UsageError";
  }
}
