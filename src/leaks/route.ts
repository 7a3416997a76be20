import { createRoute, z } from "@hono/zod-openapi";
import type { MiddlewareHandler } from "hono";
import { authFailureBudgetHeaders, authFailureRefusal, clientSource, countAuthFailure, withAuthFailureBudget } from "../auth/failure_limit";
import { KeygateError } from "../errors";
import { readCapped, tooLarge } from "../management/body";
import type { ManagementApp, ManagementEnv } from "../management/context";
import { ErrorSchema, RATE_LIMIT_HEADERS } from "../management/schemas";
import { initServices } from "../management/services";
import { verifyDerSignature } from "./ecdsa";
import { githubKeyring } from "./github_keys";
import { handleLeakReport, LeakLabelSchema, LeakReportSchema } from "./report";

export const SECRET_SCANNING_PATH = "/secret-scanning/github";

/** 1,000 tokens with long URLs fit easily; GitHub's payloads are far smaller. */
export const MAX_REPORT_BYTES = 2 * 1024 * 1024;

type ResponseHeaders = Record<string, { description: string; schema: Record<string, unknown> }>;
const RETRY_AFTER: ResponseHeaders = { "Retry-After": { description: "Seconds to wait before trying again", schema: { type: "integer", format: "int32", minimum: 1, maximum: 86_400 } } };
/** Every answer carries the sender address's failed-authentication budget (AUTH_FAILURE_LIMIT), as the management API's 401s do. */
const error = (description: string, headers: ResponseHeaders = RATE_LIMIT_HEADERS) => ({ description, headers, content: { "application/json": { schema: ErrorSchema } } });

const SignatureHeaders = z.object({
  "github-public-key-identifier": z.string().min(1).max(256).openapi({ description: "Names the key in GITHUB_SECRET_SCANNING_KEYS_URL that signed the body" }),
  "github-public-key-signature": z.string().min(1).max(256).openapi({ description: "base64 DER ECDSA P-256 SHA-256 signature of the raw body" }),
});

const secretScanningRoute = createRoute({
  method: "post",
  path: SECRET_SCANNING_PATH,
  tags: ["secret-scanning"],
  operationId: "reportLeakedTokens",
  summary: "GitHub secret scanning partner endpoint: revoke (or flag) leaked keys",
  description: [
    "Called by GitHub, not by people: no credential, but the body must carry GitHub's signature.",
    "Each token that is a live key of this gateway is revoked (LEAKED_KEY_ACTION=revoke, the default) or only flagged (notify),",
    "audited as key.leaked and announced by webhook. Repeating a report changes nothing more.",
    "Checks, all before any key lookup: body size (413), signature (401; 503 when GitHub's keys cannot be fetched), body shape (400).",
  ].join(" "),
  // GitHub's signature is the credential: an ECDSA signature header, not a bearer token.
  security: [{ githubSignature: [] }],
  request: {
    headers: SignatureHeaders,
    body: { required: true, content: { "application/json": { schema: LeakReportSchema } } },
  },
  responses: {
    200: { description: "One label per token, in order", headers: RATE_LIMIT_HEADERS, content: { "application/json": { schema: z.array(LeakLabelSchema).max(1000) } } },
    400: error("The body is not a JSON array of {token, type, url, source} (at most 1,000)"),
    401: error("Missing or invalid signature (`invalid_signature`)"),
    409: error("A reported key kept changing while it was being revoked (`conflict`); send the report again"),
    413: error("Body over 2 MiB"),
    415: error("Body is not JSON"),
    429: error("Too many failed signatures from this address (`too_many_auth_failures`, AUTH_FAILURE_LIMIT)", { ...RETRY_AFTER, ...RATE_LIMIT_HEADERS }),
    500: error("The gateway configuration is invalid (`gateway_misconfigured`) or an unexpected error", {}),
    503: error("GitHub's public keys could not be fetched (`signing_keys_unavailable`)"),
  },
});

function badSignature(message: string): KeygateError {
  return new KeygateError("invalid_signature", message);
}

/**
 * SPEC §9 for a caller without a credential: a bad signature is a failed authentication of the sending
 * address. A source over AUTH_FAILURE_LIMIT is refused 429 before its body is read (GitHub's own
 * addresses only fail if something is wrong with the keys), and every answer carries the budget.
 */
function failedSignatureLimit(): MiddlewareHandler<ManagementEnv> {
  return async (c, next) => {
    const { config } = c.get("services");
    const source = clientSource(c.req.raw.headers);
    const refusal = authFailureRefusal(source);
    if (refusal) throw withAuthFailureBudget(refusal, config, source);
    await next();
    // Success and error answers alike (Hono has rendered a thrown error into c.res by now).
    for (const [name, value] of Object.entries(authFailureBudgetHeaders(config, source))) c.res.headers.set(name, value);
  };
}

/** Reads at most MAX_REPORT_BYTES and checks GitHub's signature over exactly those bytes. */
function githubSignature(): MiddlewareHandler<ManagementEnv> {
  return async (c, next) => {
    const raw = c.req.raw;
    if (Number(raw.headers.get("content-length") ?? "0") > MAX_REPORT_BYTES) throw tooLarge(MAX_REPORT_BYTES);
    const bytes = raw.body ? await readCapped(raw.body, MAX_REPORT_BYTES) : new Uint8Array();
    const identifier = raw.headers.get("github-public-key-identifier");
    const signature = raw.headers.get("github-public-key-signature");
    if (!identifier || !signature) throw badSignature("Github-Public-Key-Identifier and Github-Public-Key-Signature are required");
    if (identifier.length > 256 || signature.length > 256) throw badSignature("the signature headers are malformed");
    const { config } = c.get("services");
    const refuse = async (message: string) => {
      await countAuthFailure(config, c.env, clientSource(raw.headers), { shared: true });
      return badSignature(message);
    };
    const key = await githubKeyring(config.githubKeysUrl).keyFor(identifier);
    if (!key) throw await refuse("Github-Public-Key-Identifier names no current GitHub key");
    if (!(await verifyDerSignature(key, signature, bytes))) throw await refuse("the signature does not match the body");
    // The stream is spent: the validator gets the verified bytes.
    c.req.raw = new Request(raw, { body: bytes });
    return next();
  };
}

export function registerSecretScanningRoutes(app: ManagementApp): void {
  app.openAPIRegistry.registerComponent("securitySchemes", "githubSignature", {
    type: "apiKey",
    in: "header",
    name: "Github-Public-Key-Signature",
    description: "GitHub's base64 DER ECDSA P-256 SHA-256 signature of the raw body, with Github-Public-Key-Identifier naming the key in GITHUB_SECRET_SCANNING_KEYS_URL",
  });
  // POST only, so other methods get the router's 405 rather than a 401 about signatures.
  app.post(SECRET_SCANNING_PATH, initServices(), failedSignatureLimit(), githubSignature());
  app.openapi(secretScanningRoute, async (c) => {
    const tokens = c.req.valid("json");
    return c.json(await handleLeakReport(c.get("services").revocation, c.get("services").config, tokens, Date.now()), 200);
  });
}
