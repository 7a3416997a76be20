import { z } from "@hono/zod-openapi";
import { KeygateError } from "../errors";
import { allowlistCovers, MAX_ALLOWED_IPS, MAX_IP_ENTRY_LENGTH, normaliseIpEntry, storedEntries } from "../restrictions/ip_allowlist";
import type { Caller } from "./context";

// The management side of key restrictions (issue 14): the `allowed_ips` and `enabled` fields,
// and who may change them.

const IpEntry = z
  .string()
  .trim()
  .min(1)
  .max(MAX_IP_ENTRY_LENGTH)
  .superRefine((text, ctx) => {
    if (text.length === 0 || text.length > MAX_IP_ENTRY_LENGTH) return; // already reported by min/max
    const entry = normaliseIpEntry(text);
    if (!entry.ok) ctx.addIssue({ code: "custom", message: entry.message });
  })
  .openapi({ example: "203.0.113.0/24" });

export const AllowedIps = z
  .array(IpEntry)
  .max(MAX_ALLOWED_IPS)
  .openapi({
    description: `Up to ${MAX_ALLOWED_IPS} IPv4/IPv6 addresses or CIDR ranges the key may be used from (the client address is CF-Connecting-IP); stored normalised. Empty: anywhere.`,
    example: ["203.0.113.0/24", "2001:db8::/32"],
  });

export const Enabled = z.boolean().openapi({
  description: "false suspends the key (401 key_disabled, status disabled) until it is set back to true; unlike revocation this can be undone",
});

/** The stored form: normalised, duplicates dropped, order kept; empty means anywhere and is stored as null. */
export function storedAllowedIps(input: readonly string[]): string[] | null {
  const entries = [...new Set(input.map((text) => (normaliseIpEntry(text.trim()) as { value: string }).value))];
  return entries.length === 0 ? null : entries;
}

function widened(message: string): KeygateError {
  return new KeygateError("forbidden", message, { details: [{ field: "allowed_ips", message }] });
}

/**
 * An org key may narrow a key's allowlist but never widen it: otherwise a key taken from inside
 * the allowed network could lift the restriction and then be used from anywhere. For the same
 * reason a key that is itself restricted can only hand out lists inside its own. The operator may
 * set anything. `current` is the target key's list before the change (null when creating).
 */
export function assertCanRestrict(caller: Caller, current: unknown, next: readonly unknown[] | null): void {
  if (caller.kind === "operator") return;
  const nextList = next ?? [];
  const currentList = storedEntries(current);
  if (currentList && !allowlistCovers(currentList, nextList)) {
    throw widened("an org key may narrow a key's allowed_ips but not widen or remove them; ask the operator");
  }
  const own = storedEntries(caller.key.allowedIps) ?? [];
  if (!allowlistCovers(own, nextList)) {
    throw widened("a key with allowed_ips can only give keys allowed_ips within its own");
  }
}
