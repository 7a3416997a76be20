// The security tests every authenticated management operation gets (Unkey's *.security.test.ts):
// each route's test file calls `securityTests(route)` with the operation as the OpenAPI document
// names it, and the same checks run against it: no credential, a wrong operator token, a revoked
// or expired caller key, another org's ids, a missing scope, an org key on an operator-only route.
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { adminFetch, createKey, createOrg, gatewayFetch, type KeyJson, keyFetch, MANAGEMENT } from "../harness";
import { expectError, expectJson, expiredKey, revokedKey } from "./support";

export type ManagementScope = "keys:read" | "keys:write" | "audit:read";
const MANAGEMENT_SCOPES: readonly ManagementScope[] = ["keys:read", "keys:write", "audit:read"];

export interface SecuredRoute {
  method: "GET" | "POST" | "PATCH";
  /** As in the OpenAPI document, relative to the management base: `/orgs/{org_id}/keys/{key_id}`. */
  path: string;
  /** A body the operation would accept, for operations that take one. */
  body?: unknown;
  /**
   * Who may call it besides the operator: nobody (`operator`), an org key of the org in the path
   * holding this scope, an org key holding any management scope (`any-management-scope`), or any
   * valid credential (`any-credential`).
   */
  allows: "operator" | ManagementScope | "any-management-scope" | "any-credential";
}

const NO_SUCH_ORG = "org_doesnotexist000000";

function pathOf(route: SecuredRoute, ids: { org: string; key: string }): string {
  return MANAGEMENT + route.path.replace("{org_id}", ids.org).replace("{key_id}", ids.key);
}

/** An org, a target key in it (for `{key_id}`), and the route's fetch as a given credential. */
async function fixture(route: SecuredRoute) {
  const { id: org } = await createOrg();
  const target = await createKey(org);
  const path = pathOf(route, { org, key: target.id });
  return {
    org,
    target,
    path,
    asKey: (key: string, to = path) => keyFetch(key, to, { method: route.method, json: route.body }),
  };
}

/** Scope sets that lack `scope`: every other management scope at once, each alone, and none at all. */
function callersWithout(scope: ManagementScope): string[][] {
  const others = MANAGEMENT_SCOPES.filter((s) => s !== scope);
  return [[...others, "demo:read"], ...others.map((s) => [s]), ["demo:read", "demo:write"]];
}

export function securityTests(route: SecuredRoute): void {
  const orgScoped = route.path.includes("{org_id}") && route.allows !== "operator";
  const keyScoped = route.path.includes("{key_id}");

  describe(`${route.method} ${route.path}: security`, () => {
    it("refuses a request without credentials with 401 missing_credentials and a Bearer challenge", async () => {
      const { path } = await fixture(route);
      const res = await gatewayFetch(path, { method: route.method, json: route.body });
      await expectError(res, 401, "missing_credentials");
      expect(res.headers.get("www-authenticate")).toBe('Bearer realm="keygate"');
    });

    it("refuses a wrong operator token with 401 unauthorized", async () => {
      const { path } = await fixture(route);
      const res = await gatewayFetch(path, { method: route.method, json: route.body, headers: { authorization: `Bearer ${env.ADMIN_TOKEN}x` } });
      await expectError(res, 401, "unauthorized");
      expect(res.headers.get("www-authenticate")).toContain('error="invalid_token"');
    });

    it("refuses a revoked caller key with 401 key_revoked, even an admin key", async () => {
      const { org, asKey } = await fixture(route);
      const res = await asKey((await revokedKey(org, { scopes: ["admin"] })).key);
      await expectError(res, 401, "key_revoked");
      expect(res.headers.get("www-authenticate")).toContain("Bearer");
    });

    it("refuses an expired caller key with 401 key_expired, even an admin key", async () => {
      const { org, asKey } = await fixture(route);
      await expectError(await asKey((await expiredKey(org, { scopes: ["admin"] })).key), 401, "key_expired");
    });

    if (orgScoped) {
      it("answers another org's ids 404 not_found to an admin key of another org, exactly as ids that do not exist; the target is untouched", async () => {
        const { org: theirs, target, asKey } = await fixture(route);
        const { id: mine } = await createOrg();
        const { key } = await createKey(mine, { scopes: ["admin"] });
        const other = await expectError(await asKey(key), 404, "not_found");
        const missing = await expectError(await asKey(key, pathOf(route, { org: NO_SUCH_ORG, key: target.id })), 404, "not_found");
        expect(other.error.message.replace(theirs, "ID")).toBe(missing.error.message.replace(NO_SUCH_ORG, "ID"));
        if (keyScoped) {
          // Their key, addressed through my org, is just as invisible.
          await expectError(await asKey(key, pathOf(route, { org: mine, key: target.id })), 404, "not_found");
        }
        const untouched = await expectJson<{ data: KeyJson }>(await adminFetch(`/orgs/${theirs}/keys/${target.id}`), 200);
        expect(untouched.data).toMatchObject({ name: "test key", status: "active", scopes: ["demo:read"] });
        expect((await keyFetch(target.key, "/demo/still-works")).status).toBe(200);
      });
    }

    if (route.allows === "keys:read" || route.allows === "keys:write" || route.allows === "audit:read") {
      const scope = route.allows;
      it(`answers 403 insufficient_scope naming ${scope} to keys of the org without it`, async () => {
        const { org, asKey } = await fixture(route);
        for (const scopes of callersWithout(scope)) {
          const { key } = await createKey(org, { scopes });
          const body = await expectError(await asKey(key), 403, "insufficient_scope");
          expect(body.error.details, scopes.join(" ")).toEqual([{ field: "scopes", message: `requires ${scope}` }]);
        }
      });
    }

    if (route.allows === "any-management-scope") {
      it("answers 403 insufficient_scope to a key of the org without any management scope", async () => {
        const { org, asKey } = await fixture(route);
        const { key } = await createKey(org, { scopes: ["demo:read", "demo:write"] });
        const body = await expectError(await asKey(key), 403, "insufficient_scope");
        expect(body.error.details).toEqual([{ field: "scopes", message: "requires keys:read" }]);
      });
    }

    if (route.allows === "operator") {
      it("refuses org keys, even admin keys, with 403 forbidden", async () => {
        const { org, asKey } = await fixture(route);
        const { key } = await createKey(org, { scopes: ["admin"] });
        await expectError(await asKey(key), 403, "forbidden");
      });
    }

    if (route.allows === "any-credential") {
      it("answers any valid org key, even one without management scopes", async () => {
        const { org, asKey } = await fixture(route);
        const { key } = await createKey(org, { scopes: ["demo:read"] });
        expect((await asKey(key)).status).toBe(200);
      });
    }
  });
}
