import { describe, expect, it } from "vitest";
import { csrfToken, openSession, sealSession, type Session, sessionKeys, validCsrfToken } from "./session";

const SECRET = "console-test-secret-0123456789abcdef";
const session = (expiresAt: number): Session => ({ credential: "kg_secretvalue", sid: "sid-1", expiresAt, kind: "operator" });

describe("console session cookie", () => {
  it("round-trips, and the sealed value does not contain the credential", async () => {
    const keys = await sessionKeys(SECRET);
    const sealed = await sealSession(keys, session(2_000));
    expect(sealed).not.toContain("kg_secretvalue");
    expect(atob(sealed.replace(/-/g, "+").replace(/_/g, "/").padEnd(Math.ceil(sealed.length / 4) * 4, "="))).not.toContain("secretvalue");
    expect(await openSession(keys, sealed, 1_000)).toEqual(session(2_000));
  });

  it("refuses an expired, tampered, foreign or malformed cookie", async () => {
    const keys = await sessionKeys(SECRET);
    const sealed = await sealSession(keys, session(2_000));
    expect(await openSession(keys, sealed, 2_000)).toBeNull();
    const flipped = sealed.slice(0, -3) + (sealed.at(-3) === "A" ? "B" : "A") + sealed.slice(-2);
    expect(await openSession(keys, flipped, 1_000)).toBeNull();
    const other = await sessionKeys("another-secret-0123456789abcdefghij");
    expect(await openSession(other, sealed, 1_000)).toBeNull();
    for (const bad of [undefined, "", "not base64!", "AAAA", "x".repeat(5000)]) expect(await openSession(keys, bad, 1_000)).toBeNull();
  });

  it("binds CSRF tokens to one session id and one secret", async () => {
    const keys = await sessionKeys(SECRET);
    const token = await csrfToken(keys, "sid-1");
    expect(await validCsrfToken(keys, "sid-1", token)).toBe(true);
    expect(await validCsrfToken(keys, "sid-2", token)).toBe(false);
    expect(await validCsrfToken(await sessionKeys("another-secret-0123456789abcdefghij"), "sid-1", token)).toBe(false);
    for (const bad of [undefined, "", 42, "!!", "A".repeat(200)]) expect(await validCsrfToken(keys, "sid-1", bad)).toBe(false);
  });
});
