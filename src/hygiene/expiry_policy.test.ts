import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { parseConfig } from "../config";
import type { KeygateError } from "../errors";
import { expiryPolicyProblem } from "./expiry_policy";

const DAY = 86_400_000;
const NOW = Date.UTC(2026, 0, 1);

describe("expiryPolicyProblem", () => {
  it("no policy: anything goes", () => {
    const policy = { required: false, maxLifetimeMs: null };
    expect(expiryPolicyProblem(policy, null, NOW)).toBeNull();
    expect(expiryPolicyProblem(policy, NOW + 10_000 * DAY, NOW)).toBeNull();
  });

  it("REQUIRE_KEY_EXPIRY refuses a key that never expires, naming the rule", () => {
    const policy = { required: true, maxLifetimeMs: null };
    expect(expiryPolicyProblem(policy, null, NOW)).toMatch(/^REQUIRE_KEY_EXPIRY: /);
    expect(expiryPolicyProblem(policy, NOW + 3650 * DAY, NOW)).toBeNull();
  });

  it("MAX_KEY_LIFETIME refuses no expiry and anything past the cap; the cap itself is allowed", () => {
    const policy = { required: false, maxLifetimeMs: 365 * DAY };
    expect(expiryPolicyProblem(policy, null, NOW)).toMatch(/^MAX_KEY_LIFETIME: .*365d/);
    expect(expiryPolicyProblem(policy, NOW + 365 * DAY, NOW)).toBeNull();
    expect(expiryPolicyProblem(policy, NOW + 365 * DAY + 1, NOW)).toMatch(/^MAX_KEY_LIFETIME: a key may live at most 365d/);
  });

  it("a lifetime within the cap is always allowed, one beyond it never", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 1000 * DAY }), fc.integer({ min: 1, max: 1000 * DAY }), (cap, lifetime) => {
        const problem = expiryPolicyProblem({ required: false, maxLifetimeMs: cap }, NOW + lifetime, NOW);
        expect(problem === null).toBe(lifetime <= cap);
      }),
    );
  });
});

describe("the policy vars", () => {
  const TIERS = { free: { limit: 60, window: "60s" } };
  const fieldsOf = (vars: Record<string, unknown>) => {
    try {
      parseConfig({ TIERS, ...vars });
      return [];
    } catch (err) {
      return ((err as KeygateError).details ?? []).map((d) => d.field);
    }
  };

  it("default to no policy and reminders after 90 days", () => {
    const config = parseConfig({ TIERS });
    expect(config.expiryPolicy).toEqual({ required: false, maxLifetimeMs: null });
    expect(config.rotationReminderAfterMs).toBe(90 * DAY);
  });

  it("take booleans and durations as TOML values or text", () => {
    expect(parseConfig({ TIERS, REQUIRE_KEY_EXPIRY: "true", MAX_KEY_LIFETIME: "365d" }).expiryPolicy).toEqual({ required: true, maxLifetimeMs: 365 * DAY });
    expect(parseConfig({ TIERS, REQUIRE_KEY_EXPIRY: true, MAX_KEY_LIFETIME: "1y" }).expiryPolicy.maxLifetimeMs).toBe(365 * DAY);
    expect(parseConfig({ TIERS, ROTATION_REMINDER_AFTER: "off" }).rotationReminderAfterMs).toBeNull();
    expect(parseConfig({ TIERS, ROTATION_REMINDER_AFTER: "30d" }).rotationReminderAfterMs).toBe(30 * DAY);
  });

  it.each([
    [{ REQUIRE_KEY_EXPIRY: "yes" }, "REQUIRE_KEY_EXPIRY"],
    [{ MAX_KEY_LIFETIME: "12h" }, "MAX_KEY_LIFETIME"],
    [{ MAX_KEY_LIFETIME: "off" }, "MAX_KEY_LIFETIME"],
    [{ MAX_KEY_LIFETIME: "forever" }, "MAX_KEY_LIFETIME"],
    [{ ROTATION_REMINDER_AFTER: "0d" }, "ROTATION_REMINDER_AFTER"],
    [{ ROTATION_REMINDER_AFTER: "never" }, "ROTATION_REMINDER_AFTER"],
  ])("refuses %j, naming %s", (vars, field) => {
    expect(fieldsOf(vars)).toEqual([field]);
  });
});
