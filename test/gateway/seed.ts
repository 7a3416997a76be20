// Seeds orgs and keys straight into the local D1, for hot-path tests that need a key in a given
// state (revoked, expired, a tier) without going through the management API.
import { env } from "cloudflare:workers";
import { drizzle } from "drizzle-orm/d1";
import { displayParts, generateKey } from "../../src/keys/format";
import { hashKey } from "../../src/keys/hash";
import { newId } from "../../src/keys/ids";
import { apiKeys, orgs } from "../../src/store/schema";

export const KEY_PREFIX = "kg_";

export interface SeededKey {
  key: string;
  id: string;
  orgId: string;
  hash: string;
}

export async function seedOrg(tier = "free"): Promise<string> {
  const id = newId("org");
  const now = Date.now();
  await drizzle(env.DB).insert(orgs).values({ id, name: `org ${id}`, tier, createdAt: now, updatedAt: now });
  return id;
}

export async function seedKey(options: { orgId?: string; tier?: string; scopes?: string[]; expiresAt?: number | null; revokedAt?: number | null } = {}): Promise<SeededKey> {
  const orgId = options.orgId ?? (await seedOrg(options.tier));
  const key = generateKey(KEY_PREFIX);
  const hash = await hashKey(key);
  const id = newId("key");
  const now = Date.now();
  await drizzle(env.DB)
    .insert(apiKeys)
    .values({
      id,
      orgId,
      name: "seeded",
      hash,
      ...displayParts(key, KEY_PREFIX),
      scopes: options.scopes ?? ["demo:read", "demo:write"],
      createdAt: now,
      updatedAt: now,
      expiresAt: options.expiresAt ?? null,
      revokedAt: options.revokedAt ?? null,
    });
  return { key, id, orgId, hash };
}

/** A throwaway key that passes the format check but belongs to nobody. */
export function unknownKey(): string {
  return generateKey(KEY_PREFIX);
}

/** Polls until `check` returns a value (not undefined) or the deadline passes; for queue delivery. */
export async function eventually<T>(check: () => Promise<T | undefined>, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
