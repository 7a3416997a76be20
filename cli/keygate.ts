#!/usr/bin/env node
// The `keygate` bin (package.json "bin"). Node 22 runs this TypeScript file directly (type stripping);
// `npx keygate` in a checkout finds it through the package's own bin and runs it on node_modules' Node 22.
import { main } from "./program.ts";

process.exitCode = await main(process.argv.slice(2), { stdout: process.stdout, stderr: process.stderr, env: process.env });
