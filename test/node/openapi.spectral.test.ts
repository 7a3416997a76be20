// SPEC §9: the OpenAPI document the worker serves is a security contract. Spectral with spectral:oas and
// the OWASP API ruleset (.spectral.yaml) reports 0 errors; every warning left is one the ruleset file
// lists with its reason; and the contract's own checks (operationId, tag, declared errors, rate-limit
// headers, bounds) hold for every operation.
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { tsImport } from "tsx/esm/api";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const RULESET = join(ROOT, ".spectral.yaml");
const SPECTRAL = join(ROOT, "node_modules", "@stoplight", "spectral-cli", "dist", "index.js");

interface SpectralResult {
  code: string;
  message: string;
  path: (string | number)[];
  severity: number;
}

type Json = Record<string, unknown>;
let dir: string;
let document: Json;
let results: SpectralResult[];

/** The document exactly as served: through the worker's own request split (src/app.ts), over https. */
async function servedDocument(): Promise<Json> {
  const { handleRequest } = (await tsImport("../../src/app.ts", import.meta.url)) as {
    handleRequest(request: Request, env: unknown, ctx: unknown): Promise<Response> | Response;
  };
  const ctx = { waitUntil() {}, passThroughOnException() {} };
  const res = await handleRequest(new Request("https://gateway.example/_keygate/v1/openapi.json"), {}, ctx);
  expect(res.status).toBe(200);
  return (await res.json()) as Json;
}

function lint(file: string): Promise<SpectralResult[]> {
  return new Promise((resolve, reject) => {
    // Any proxy is pointed at a closed port: the rulesets must load from node_modules, offline.
    const env = { ...process.env, HTTP_PROXY: "http://127.0.0.1:9", HTTPS_PROXY: "http://127.0.0.1:9", FORCE_COLOR: "0" };
    execFile(process.execPath, [SPECTRAL, "lint", file, "--ruleset", RULESET, "--format", "json", "--quiet", "--fail-severity", "error"], { cwd: ROOT, env }, (err, stdout, stderr) => {
      try {
        resolve(JSON.parse(stdout) as SpectralResult[]);
      } catch {
        reject(new Error(`spectral failed (${err?.message}): ${stderr}${stdout}`));
      }
    });
  });
}

beforeAll(async () => {
  document = await servedDocument();
  dir = mkdtempSync(join(tmpdir(), "keygate-openapi-"));
  const file = join(dir, "openapi.json");
  writeFileSync(file, JSON.stringify(document));
  results = await lint(file);
}, 120_000);

afterAll(() => rmSync(dir, { recursive: true, force: true }));

const METHODS = ["get", "put", "post", "patch", "delete", "head", "options"];

function operations(): { where: string; op: Json }[] {
  const out: { where: string; op: Json }[] = [];
  for (const [path, item] of Object.entries(document.paths as Record<string, Json>)) {
    for (const method of METHODS) if (item[method]) out.push({ where: `${method.toUpperCase()} ${path}`, op: item[method] as Json });
  }
  return out;
}

describe("OpenAPI document: Spectral (spectral:oas + OWASP API Security ruleset)", () => {
  it("reports 0 errors", () => {
    const errors = results.filter((r) => r.severity === 0).map((r) => `${r.code} at ${r.path.join(".")}: ${r.message}`);
    expect(errors).toEqual([]);
    console.log(`spectral: ${results.length} findings, 0 errors, ${results.filter((r) => r.severity === 1).length} warnings`);
  });

  it("keeps only warnings that .spectral.yaml lists with a reason", () => {
    const ruleset = readFileSync(RULESET, "utf8");
    const unlisted = [...new Set(results.filter((r) => r.severity === 1).map((r) => r.code))].filter((code) => !ruleset.includes(code));
    expect(unlisted).toEqual([]);
  });
});

describe("OpenAPI document: SPEC §9 contract", () => {
  it("every operation has an operationId and a tag defined at the top level", () => {
    const tags = new Set((document.tags as { name: string }[]).map((t) => t.name));
    const ids = new Set<string>();
    for (const { where, op } of operations()) {
      expect(op.operationId, where).toMatch(/^[a-z][A-Za-z]+$/);
      expect(ids.has(op.operationId as string), `${where}: duplicate operationId`).toBe(false);
      ids.add(op.operationId as string);
      expect((op.tags as string[]).length, where).toBeGreaterThan(0);
      for (const tag of op.tags as string[]) expect(tags.has(tag), `${where}: tag ${tag}`).toBe(true);
    }
    expect(ids.size).toBeGreaterThanOrEqual(12);
  });

  it("every authenticated operation declares 401, 403, 404, 429 and 500, and its 2xx/4xx answers carry the rate-limit headers", () => {
    for (const { where, op } of operations()) {
      const responses = op.responses as Record<string, Json>;
      if (Array.isArray(op.security) && op.security.length === 0) {
        // GET /health: no credentials, no rate limit (see .spectral.yaml).
        expect(where).toBe("GET /_keygate/v1/health");
        continue;
      }
      // The GitHub-signed secret scanning endpoint has no org, scopes or resources: no 403 or 404 to declare.
      const signedByGithub = JSON.stringify(op.security) === JSON.stringify([{ githubSignature: [] }]);
      for (const status of signedByGithub ? ["401", "429", "500"] : ["401", "403", "404", "429", "500"]) expect(responses[status], `${where} ${status}`).toBeDefined();
      for (const [status, response] of Object.entries(responses)) {
        if (!/^[24]/.test(status)) continue;
        const headers = Object.keys((response.headers as Json | undefined) ?? {});
        expect(headers, `${where} ${status}`).toEqual(expect.arrayContaining(["RateLimit-Policy", "RateLimit", "X-RateLimit-Remaining", "X-RateLimit-Reset"]));
      }
      expect(Object.keys((responses["429"]!.headers as Json) ?? {}), where).toContain("Retry-After");
    }
  });

  it("bounds every string, integer and array in every schema and parameter", () => {
    const problems: string[] = [];
    const visit = (node: unknown, where: string) => {
      if (Array.isArray(node)) return node.forEach((child, i) => visit(child, `${where}[${i}]`));
      if (!node || typeof node !== "object") return;
      const schema = node as Json;
      const types = ([] as unknown[]).concat(schema.type ?? []);
      if (types.includes("string") && schema.maxLength === undefined && schema.enum === undefined && schema.const === undefined) problems.push(`${where}: string without maxLength/enum`);
      if (types.includes("integer") && (schema.minimum === undefined || schema.maximum === undefined || !["int32", "int64"].includes(schema.format as string))) {
        problems.push(`${where}: integer without minimum/maximum/format`);
      }
      if (types.includes("array") && schema.maxItems === undefined) problems.push(`${where}: array without maxItems`);
      for (const [key, child] of Object.entries(schema)) if (key !== "example" && key !== "examples") visit(child, `${where}.${key}`);
    };
    visit(document.components, "components");
    visit(document.paths, "paths");
    expect(problems).toEqual([]);
  });
});
