#!/usr/bin/env node
// The `keygate` bin (package.json "bin"). Node 22 runs this TypeScript file directly (type stripping);
// `npx keygate` in a checkout finds it through the package's own bin and runs it on node_modules' Node 22.
import { main } from "./program.ts";
import { EXIT } from "./errors.ts";

// `keygate keys list … | head`: the reader left, which is how a pipeline ends, not a failure. Without a
// listener Node threw the EPIPE as an unhandled 'error' event: a stack trace on stderr and exit 1.
process.stdout.on("error", (err: NodeJS.ErrnoException) => {
  if (err.code !== "EPIPE") process.stderr.write(`error: cannot write the output: ${err.code ?? err.message}\n`);
  process.exit(err.code === "EPIPE" ? EXIT.ok : EXIT.api);
});

process.exitCode = await main(process.argv.slice(2), { stdout: process.stdout, stderr: process.stderr, env: process.env });
