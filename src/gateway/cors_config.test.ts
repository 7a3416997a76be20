import { describe, expect, it } from "vitest";
import { parseConfig } from "../config";
import { KeygateError } from "../errors";

const TIERS = { free: { limit: 60, window: "60s" } };

function fieldsOf(cors: unknown): string[] {
  try {
    parseConfig({ TIERS, CORS: cors });
  } catch (err) {
    if (err instanceof KeygateError) return (err.details ?? []).map((d) => d.field);
    throw err;
  }
  return [];
}

describe("CORS config", () => {
  it("is off unless set, and fills its defaults", () => {
    expect(parseConfig({ TIERS }).cors).toBeUndefined();
    expect(parseConfig({ TIERS, CORS: { origins: ["https://app.example.com"] } }).cors).toEqual({ origins: ["https://app.example.com"], max_age: 600, credentials: false });
  });

  it("accepts exact origins, first-label wildcards, ports, '*', and JSON text like every table var", () => {
    const origins = ["https://app.example.com", "http://localhost:5173", "https://*.example.com", "https://*.example.com:8443", "http://[::1]:3000"];
    expect(parseConfig({ TIERS, CORS: JSON.stringify({ origins, credentials: true, methods: ["GET", "POST"], headers: ["Authorization"], expose_headers: ["X-Request-Id"], max_age: 0 }) }).cors?.origins).toEqual(origins);
    expect(parseConfig({ TIERS, CORS: { origins: ["*"] } }).cors?.origins).toEqual(["*"]);
  });

  it.each([
    ["a path", "https://app.example.com/app"],
    ["a trailing slash", "https://app.example.com/"],
    ["an upper-case host", "https://App.example.com"],
    ["no scheme", "app.example.com"],
    ["a non-http scheme", "ftp://example.com"],
    ["a wildcard inside a label", "https://app*.example.com"],
    ["a wildcard not first", "https://app.*.example.com"],
    ["a wildcard scheme", "*://example.com"],
    ["a bare wildcard label", "https://*"],
    ["a wildcard with a path", "https://*.example.com/x"],
    ["an empty string", ""],
    ["a wildcard over a top-level domain", "https://*.com"],
    ["a wildcard over a top-level domain with a port", "https://*.dev:8443"],
  ])("refuses an origin with %s, naming the entry", (_name, origin) => {
    expect(fieldsOf({ origins: ["https://ok.example.com", origin] })).toEqual(["CORS.origins.1"]);
  });

  it("refuses '*' together with credentials, naming credentials", () => {
    expect(fieldsOf({ origins: ["*"], credentials: true })).toEqual(["CORS.credentials"]);
  });

  it("a wildcard may cover one machine's names (*.localhost) but not a top-level domain", () => {
    expect(fieldsOf({ origins: ["http://*.localhost:5173", "https://*.example.co.uk"] })).toEqual([]);
  });

  it("refuses '*' in headers or expose_headers with credentials (browsers read it as a header named '*' then), naming the entry", () => {
    expect(fieldsOf({ origins: ["https://a.example.com"], credentials: true, headers: ["Authorization", "*"], expose_headers: ["*"] })).toEqual(["CORS.headers.1", "CORS.expose_headers.0"]);
    expect(fieldsOf({ origins: ["https://a.example.com"], headers: ["*"], expose_headers: ["*"] })).toEqual([]);
  });

  it.each([
    [{ origins: [] }, "CORS.origins"],
    [{ origins: "https://app.example.com" }, "CORS.origins"],
    [{ origins: ["https://a.example.com"], methods: ["FETCH"] }, "CORS.methods.0"],
    [{ origins: ["https://a.example.com"], headers: ["Bad Header"] }, "CORS.headers.0"],
    [{ origins: ["https://a.example.com"], max_age: -1 }, "CORS.max_age"],
    [{ origins: ["https://a.example.com"], credentials: "yes" }, "CORS.credentials"],
    [{ origins: ["https://a.example.com"], origin: ["typo"] }, "CORS"],
  ])("refuses %j (field %s)", (cors, field) => {
    expect(fieldsOf(cors)).toEqual([field]);
  });

  it("names CORS when its JSON text does not parse", () => {
    expect(fieldsOf("{origins:")).toEqual(["CORS"]);
  });
});
