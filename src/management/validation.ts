import type { z } from "@hono/zod-openapi";
import { type ErrorDetail, KeygateError } from "../errors";

/** `scopes[2]`, `rate_limit.window`: how a client would point at the field in its own JSON. */
function fieldName(path: readonly PropertyKey[], fallback: string): string {
  let out = "";
  for (const segment of path) {
    if (typeof segment === "number") out += `[${segment}]`;
    else out += out === "" ? String(segment) : `.${String(segment)}`;
  }
  return out || fallback;
}

function detailsOf(issues: readonly z.core.$ZodIssue[], target: string): ErrorDetail[] {
  const fallback = target === "json" ? "body" : target;
  return issues.flatMap((issue) => {
    if (issue.code === "unrecognized_keys") {
      return issue.keys.map((key) => ({ field: fieldName([...issue.path, key], fallback), message: "is not a known field" }));
    }
    const missing = issue.code === "invalid_type" && issue.message.endsWith("received undefined");
    return [{ field: fieldName(issue.path, fallback), message: missing ? "is required" : issue.message }];
  });
}

/** One envelope for zod failures of every route: 400 `validation_error`, one detail per bad field. */
export function validationError(issues: readonly z.core.$ZodIssue[], target: string): KeygateError {
  return invalidFields(detailsOf(issues, target));
}

/** The OpenAPIHono `defaultHook`: thrown, so `onError` renders it like every other error. */
export function validationHook(result: { success: true } | { success: false; error: z.ZodError; target: string }): void {
  if (!result.success) throw validationError(result.error.issues, result.target);
}

/** The bounds the document gives the envelope (ErrorSchema in schemas.ts). */
const MAX_DETAILS = 200;
const MAX_FIELD_CHARS = 200;
const MAX_MESSAGE_CHARS = 2000;

/** At most `max` code points (never half a surrogate pair), marked with an ellipsis when cut. */
export function clip(text: string, max: number): string {
  const chars = Array.from(text);
  return chars.length <= max ? text : `${chars.slice(0, max - 1).join("")}…`;
}

/**
 * Key-shaped runs (any KEY_PREFIX shape: 3-17 characters ending in `_`, then 49 base62) cut to prefix + 8 + "…", in
 * text an answer quotes from the request (a path, a bad scope or address, an unknown field's name): a key pasted
 * into the wrong field must not come back whole in an error, where clients print and log it. Any prefix, not the
 * config's: these answers must not depend on the config parsing (an unknown path answers 404 even when it fails).
 */
const KEY_SHAPED = /([a-z][a-z0-9_]{1,15}_[0-9A-Za-z]{8})[0-9A-Za-z]{41}/g;
export const withoutKeys = (text: string) => text.replace(KEY_SHAPED, "$1…");

/**
 * Details as the document bounds them, whatever the body held: a 60 KiB body of unknown fields names
 * thousands of them, and an unknown field's name is as long as the client made it. The answer stays
 * small (no amplification) and within the schema: the first 199 problems and a count of the rest.
 */
function bounded(details: ErrorDetail[]): ErrorDetail[] {
  const clipped = details.map((d) => ({ field: clip(withoutKeys(d.field), MAX_FIELD_CHARS), message: clip(withoutKeys(d.message), MAX_MESSAGE_CHARS) }));
  if (clipped.length <= MAX_DETAILS) return clipped;
  return [...clipped.slice(0, MAX_DETAILS - 1), { field: "body", message: `and ${clipped.length - MAX_DETAILS + 1} more problems` }];
}

/** For rules only the handler can check (the configured catalogue and tiers). */
export function invalidFields(all: ErrorDetail[]): KeygateError {
  const details = bounded(all);
  const first = details[0]!;
  return new KeygateError("validation_error", clip(`invalid request: ${first.field} ${first.message}`, MAX_MESSAGE_CHARS), { details });
}

export const invalidField = (field: string, message: string) => invalidFields([{ field, message }]);
