// Issue 18 "Secrets": everything the worker prints while a test file runs (console.* inside workerd,
// where the worker and the tests share one isolate) is captured and, after the file, scanned for any
// full key (a well-formed key with a valid checksum) or the admin token: 0 hits, or the file fails.
import { env } from "cloudflare:workers";
import { afterAll } from "vitest";
import { parseKey, secretScannerPattern } from "../src/keys/format";

const PREFIX = "kg_";
const printed: string[] = [];

for (const level of ["log", "info", "warn", "error", "debug"] as const) {
  const original = console[level].bind(console);
  console[level] = (...args: unknown[]) => {
    printed.push(args.map((arg) => (typeof arg === "string" ? arg : safeJson(arg))).join(" "));
    original(...args);
  };
}

function safeJson(value: unknown): string {
  if (value instanceof Error) return `${value.name}: ${value.message}\n${value.stack ?? ""}`;
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}

/** Full keys and admin-token occurrences in `text`. Exported for tests that scan responses and tables. */
export function secretsIn(text: string): string[] {
  const pattern = new RegExp(secretScannerPattern(PREFIX).source, "g");
  const hits = [...text.matchAll(pattern)].map((m) => m[0]).filter((candidate) => parseKey(candidate, PREFIX).ok);
  if (env.ADMIN_TOKEN && text.includes(env.ADMIN_TOKEN)) hits.push("<ADMIN_TOKEN>");
  return hits;
}

/** How much was captured; lets a test show the scan had something to scan. */
export function printedSoFar(): readonly string[] {
  return printed;
}

afterAll(() => {
  const hits = printed.flatMap((line) => secretsIn(line).map((hit) => `${hit.slice(0, 8)}… in: ${line.slice(0, 120).replace(hit, "<redacted>")}`));
  if (hits.length > 0) throw new Error(`secrets scan: ${hits.length} full key(s) or the admin token printed during this file:\n${hits.join("\n")}`);
});
