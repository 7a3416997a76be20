/**
 * Errors that repeat on every request (a binding that is down) are logged once per interval per
 * kind, with how many were suppressed since: a failing dependency must not turn into a log flood,
 * and the first occurrence is always printed. Never pass a key or a token in `detail`.
 */
const lastLogged = new Map<string, { at: number; suppressed: number }>();

/** One minute: often enough to see an outage in `wrangler tail`, rarely enough to never flood it. */
export const LOG_INTERVAL_MS = 60_000;

/** Returns whether the message was printed. */
export function logThrottled(kind: string, message: string, detail?: unknown, now = Date.now(), intervalMs = LOG_INTERVAL_MS): boolean {
  const last = lastLogged.get(kind);
  if (last && now - last.at < intervalMs) {
    last.suppressed++;
    return false;
  }
  const suppressed = last?.suppressed ?? 0;
  lastLogged.set(kind, { at: now, suppressed: 0 });
  const text = detail instanceof Error ? `${detail.name}: ${detail.message}` : detail === undefined ? undefined : String(detail);
  console.error(`keygate: ${message}`, ...(text === undefined ? [] : [text]), ...(suppressed > 0 ? [{ suppressedSinceLast: suppressed }] : []));
  return true;
}

/** Test hook: forget when each kind was last logged. */
export function resetLogThrottle(): void {
  lastLogged.clear();
}
