// The clock tests run on. Windows, quotas, usage buckets and bare dates all turn over at instants of the
// wall clock; a test reading the real one fails whenever such an instant falls between two of its steps
// (a second of a 1 s window on a loaded machine, UTC midnight, a month's end). A test that depends on
// where it stands in a window sets the clock instead.
//
// The worker runs in the test's own isolate (the gateway, the management API, the Durable Objects and
// the queue consumer alike), so faking `Date` there moves every clock the code reads: the fake is the
// injected clock. Only `Date` is faked: timers (the limiter's timeouts, fast mode's report delay,
// waitUntil work) keep running on real time.
import { onTestFinished, vi } from "vitest";

const MINUTE_MS = 60_000;

/**
 * Half a minute into the current real minute: on a 6 s bucket's start (a 60 s window's), 30 s from any
 * minute, hour or day boundary, and within 30 s of the real time, so what leaves the isolate with a
 * timestamp is still believed outside it (webhooks are signed, and the test receiver checks the
 * signature's time against its own clock, within 5 minutes).
 */
export const midMinute = () => Math.floor(Date.now() / MINUTE_MS) * MINUTE_MS + MINUTE_MS / 2;

/**
 * 100 ms before 2031-02-01T00:00:00Z: the end of a day, a month and an hour at once. Far from the real
 * time: a test at this instant must not send webhooks (the receiver would refuse their signatures' time).
 */
export const BEFORE_MONTH_END = Date.UTC(2031, 1, 1) - 100;

export interface TestClock {
  /** The current (fake) time, epoch ms. */
  now(): number;
  /** Moves the clock to `at` (epoch ms), forward or back. */
  set(at: number): void;
  /** Moves the clock `ms` forward. */
  advance(ms: number): void;
}

/**
 * For the rest of the running test, `Date` (the test's and the worker's) stands still at `at` until the
 * test moves it: nothing turns over between two steps unless the test says so. Restored when the test ends.
 */
export function frozenClock(at: number = midMinute()): TestClock {
  vi.useFakeTimers({ toFake: ["Date"], now: at });
  onTestFinished(() => void vi.useRealTimers());
  return {
    now: () => Date.now(),
    set: (to) => void vi.setSystemTime(to),
    advance: (ms) => void vi.setSystemTime(Date.now() + ms),
  };
}

/** The UTC date (YYYY-MM-DD) of `at`. */
export const utcDate = (at: number) => new Date(at).toISOString().slice(0, 10);

/**
 * Resolves once the real clock has passed `at` (epoch ms), for a test that needs a later timestamp than
 * one it has seen (two writes in the same millisecond tie). Polls the condition itself rather than
 * sleeping a guessed amount; in workerd the clock moves only across I/O, which the timer is.
 */
export async function clockPast(at: number, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() <= at) {
    if (Date.now() > deadline) throw new Error(`the clock did not pass ${at} within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
}
