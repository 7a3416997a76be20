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

/** For rules only the handler can check (the configured catalogue and tiers). */
export function invalidFields(details: ErrorDetail[]): KeygateError {
  const first = details[0]!;
  return new KeygateError("validation_error", `invalid request: ${first.field} ${first.message}`, { details });
}

export const invalidField = (field: string, message: string) => invalidFields([{ field, message }]);
