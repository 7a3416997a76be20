import { describe, expect, it } from "vitest";
import { parseConfig } from "../config";
import { liveLimitRows, tierLimitText } from "./limits";

describe("console limit rows", () => {
  it("words a v1 tier, and a tier with named windows and a quota", () => {
    const config = parseConfig({ TIERS: { free: { limit: 60, window: "60s" } } });
    // Whether the parsed tier keeps the v1 shape or becomes one window named "default".
    expect(tierLimitText(config, "free")).toMatch(/^free: 60 per 1m( \(default\))?$/);
    expect(tierLimitText(config, "gone")).toBeNull();
    expect(tierLimitText(config, undefined)).toBeNull();
    const v2 = { ...config, tiers: { pro: { limits: [{ name: "burst", limit: 10, window: 1_000 }, { name: "default", limit: 600, window: 60_000 }], quota: { limit: 100_000, period: "month" } } } } as never;
    expect(tierLimitText(v2, "pro")).toBe("pro: 10 per 1s (burst), 600 per 1m (default), quota 100000 per month");
  });

  it("shows each live policy as remaining of limit, and unknown shapes field by field", () => {
    const rows = liveLimitRows({
      key_id: "key_x",
      policies: [
        { name: "default", kind: "window", limit: 600, window: "60s", period: null, remaining: 598, reset_at: "2026-06-01T12:00:05.000Z" },
        { name: "quota", kind: "quota", limit: 1000, window: null, period: "day", remaining: 1000, reset_at: null },
      ],
    });
    expect(rows).toEqual([
      { name: "Left now: default", text: "598 of 600 per 60s, next unit back at 12:00:05 UTC" },
      { name: "Left now: quota", text: "1000 of 1000 per day" },
    ]);
    expect(liveLimitRows({ remaining: 5, window: { a: 1 } })).toEqual([
      { name: "Now: remaining", text: "5" },
      { name: "Now: window", text: '{"a":1}' },
    ]);
    expect(liveLimitRows(null)).toEqual([]);
  });
});
