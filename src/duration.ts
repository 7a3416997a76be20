import { z } from "zod";

/** Durations as operators write them in config and request bodies: "30s", "15m", "2h", "7d", "1y", or plain milliseconds. */
const UNIT_MS = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000, y: 31_536_000_000 } as const;

const DURATION = /^(\d+)\s*(ms|s|m|h|d|w|y)$/;

/** Returns milliseconds, or null when the text is not a duration. */
export function parseDuration(value: string | number): number | null {
  if (typeof value === "number") return Number.isSafeInteger(value) && value >= 0 ? value : null;
  const match = DURATION.exec(value.trim());
  if (!match) return null;
  const ms = Number(match[1]) * UNIT_MS[match[2] as keyof typeof UNIT_MS];
  return Number.isSafeInteger(ms) ? ms : null;
}

/** Shortest exact rendering, used for `RateLimit-Policy` and API output ("60s", "1h"). */
export function formatDuration(ms: number): string {
  for (const unit of ["d", "h", "m", "s"] as const) {
    if (ms >= UNIT_MS[unit] && ms % UNIT_MS[unit] === 0) return `${ms / UNIT_MS[unit]}${unit}`;
  }
  return `${ms}ms`;
}

/** A positive duration in config or a request body, as milliseconds ("60s", "15m", "1h" or a number). */
export const durationSchema = z.union([z.string(), z.number()]).transform((value, ctx) => {
  const ms = parseDuration(value);
  if (ms === null || ms <= 0) {
    ctx.addIssue({ code: "custom", message: `"${value}" is not a duration like "60s", "15m" or "1h"` });
    return z.NEVER;
  }
  return ms;
});

/** A duration as its writer wrote it ("60s" stays "60s") when `text` still says `ms`, else its shortest rendering. */
export function writtenDuration(ms: number, text: string | undefined): string {
  return text !== undefined && parseDuration(text) === ms ? text : formatDuration(ms);
}
