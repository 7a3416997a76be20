// What the CLI must never repeat or send where it is kept: an API key (any gateway's KEY_PREFIX) and the
// token it authenticates with. An operator pastes a key where a key id belongs (`keys revoke $ORG $KEY`),
// or swaps KEYGATE_URL and KEYGATE_TOKEN; the key would then travel in a URL (the gateway's and every
// proxy's access logs), be stored as a name, or come back quoted in an error message on a shared terminal.

/**
 * A key-shaped run: a KEY_PREFIX (3-17 characters: a lowercase letter, then lowercase letters, digits or
 * underscores, ending in `_`) and 49 base62 characters (body and checksum). The CLI cannot know the
 * gateway's prefix, so any prefix counts; ids (`key_` + 20 characters) are far too short to match.
 */
const KEY_RUN = /([a-z][a-z0-9_]{1,15}_)([0-9A-Za-z]{8})[0-9A-Za-z]{41}(?![0-9A-Za-z])/g;

/** The shortest token worth looking for verbatim: a shorter one would match ordinary text. */
export const MIN_TOKEN_LENGTH = 8;

export function holdsKey(text: string): boolean {
  KEY_RUN.lastIndex = 0;
  return KEY_RUN.test(text);
}

/** Tokens this run authenticates with: KEYGATE_TOKEN and any `--token` value, whichever the command uses. */
export function tokensOf(argv: readonly string[], env: NodeJS.ProcessEnv): string[] {
  const tokens = [env.KEYGATE_TOKEN?.trim()];
  argv.forEach((arg, i) => {
    if (arg === "--token") tokens.push(argv[i + 1]);
    else if (arg.startsWith("--token=")) tokens.push(arg.slice("--token=".length));
  });
  return tokens.filter((token): token is string => token !== undefined && token.length >= MIN_TOKEN_LENGTH);
}

/** `text` with every key cut to its visible identifier (as `keys list` shows it) and every token replaced. */
export function redactSecrets(text: string, tokens: readonly string[]): string {
  let redacted = text;
  for (const token of tokens) redacted = redacted.split(token).join("<token>");
  return redacted.replace(KEY_RUN, (_key, prefix: string, start: string) => `${prefix}${start}…`);
}
