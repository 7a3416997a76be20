// Puts a freshly started gateway into a usable state the way an operator would: the same SQL
// migrations `wrangler d1 migrations apply` runs, then an org and keys through the management API.
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import type { Miniflare } from "miniflare";
import { unstable_splitSqlQuery } from "wrangler";

export async function applyMigrations(miniflare: Miniflare, migrationsDir: string): Promise<void> {
  const db = await miniflare.getD1Database("DB");
  const files = (await readdir(migrationsDir)).filter((name) => name.endsWith(".sql")).sort();
  for (const file of files) {
    for (const statement of unstable_splitSqlQuery(await readFile(join(migrationsDir, file), "utf8"))) {
      await db.prepare(statement).run();
    }
  }
}

export interface BenchKey {
  orgId: string;
  keyId: string;
  /** The full key, shown once by the create call. Never printed by the benchmark. */
  key: string;
}

/** Thin client for the management API as the operator (ADMIN_TOKEN) uses it. */
export class ManagementClient {
  readonly #base: string;
  readonly #token: string;

  constructor(gatewayUrl: string, adminToken: string) {
    this.#base = `${gatewayUrl}/_keygate/v1`;
    this.#token = adminToken;
  }

  async createOrg(name: string, tier: string): Promise<string> {
    const org = await this.#call<{ id: string }>("POST", "/orgs", { name, tier });
    return org.id;
  }

  async createKey(orgId: string, name: string, scopes: string[], allowedIps?: string[]): Promise<BenchKey> {
    const body = { name, scopes, expires_in: "never", ...(allowedIps ? { allowed_ips: allowedIps } : {}) };
    const created = await this.#call<{ id: string; key: string }>("POST", `/orgs/${orgId}/keys`, body);
    return { orgId, keyId: created.id, key: created.key };
  }

  /** A rename: every key update purges the key from KV and from the isolate's memory. */
  async renameKey(key: BenchKey, name: string): Promise<void> {
    await this.#call("PATCH", `/orgs/${key.orgId}/keys/${key.keyId}`, { name });
  }

  async #call<T>(method: string, path: string, body: unknown): Promise<T> {
    const response = await fetch(this.#base + path, {
      method,
      headers: { authorization: `Bearer ${this.#token}`, "content-type": "application/json" },
      body: JSON.stringify(body),
    });
    const text = await response.text();
    if (!response.ok) throw new Error(`management API ${method} ${path} answered ${response.status}: ${text.slice(0, 300)}`);
    return (JSON.parse(text) as { data: T }).data;
  }
}
