/**
 * SPEC §3 step 8: what the hot path records, and how it leaves the isolate without a D1 write.
 * Records are buffered per isolate and sent through USAGE_QUEUE from `ctx.waitUntil`, after the
 * response is on its way; the queue consumer (consumer.ts) writes them to D1 in batches.
 * No record ever holds an API key: calls carry the key's id, failures at most the id of the key.
 */
import { logThrottled } from "../log";

/** One proxied or refused call by a known, valid key. */
export interface CallRecord {
  keyId: string;
  orgId: string;
  method: string;
  /** Path only: query strings often carry personal data, and the origin logs them anyway. */
  path: string;
  status: number;
  latencyMs: number;
  /** Epoch ms. */
  at: number;
}

export type AuthFailureReasonCode = "missing_credentials" | "malformed_key" | "invalid_key" | "key_revoked" | "key_expired" | "key_disabled" | "conflicting_credentials" | "invalid_admin_token";

/** One failed authentication. keyId/orgId only when the key exists (revoked or expired). */
export interface AuthFailureRecord {
  /** Client IP (CF-Connecting-IP), or "unknown". */
  source: string;
  reason: AuthFailureReasonCode;
  keyId: string | null;
  orgId: string | null;
  at: number;
}

/** A queue message: several records, so a busy isolate sends one message per batch, not per call. */
export interface UsageMessage {
  calls: CallRecord[];
  failures: AuthFailureRecord[];
}

/** Paths longer than this are cut: a record must stay small whatever a client sends. */
export const MAX_RECORDED_PATH = 256;
/** Records per message: at ~400 bytes each, far under the 128 KB message limit. */
const RECORDS_PER_MESSAGE = 25;
/** Messages per sendBatch: under both its 100-message and 256 KB limits. */
const MESSAGES_PER_SEND = 20;
/** How long a record waits for others to share its message. Spent in waitUntil, never in a response. */
const FLUSH_DELAY_MS = 50;
/** A buffer this full is sent at once rather than after the delay. */
const FLUSH_AT_RECORDS = MESSAGES_PER_SEND * RECORDS_PER_MESSAGE;
/** A scheduled flush that has not run by then is presumed lost with its request, and replaced. */
const FLUSH_OVERDUE_MS = 5_000;
/** Records held back while the queue is failing; beyond this the oldest are dropped (and counted in the log). */
const MAX_BUFFERED = 10_000;

export interface UsageRecorder {
  call(ctx: ExecutionContext, record: CallRecord): void;
  authFailure(ctx: ExecutionContext, record: AuthFailureRecord): void;
}

// One buffer per queue binding; in production that is one per isolate.
const recorders = new WeakMap<Queue<UsageMessage>, UsageRecorder>();

export function usageRecorder(queue: Queue<UsageMessage>): UsageRecorder {
  let recorder = recorders.get(queue);
  if (!recorder) {
    recorder = createRecorder(queue);
    recorders.set(queue, recorder);
  }
  return recorder;
}

/**
 * One delayed flush per isolate at a time. The request that schedules it holds it in its own
 * waitUntil; when it wakes it sends everything buffered by then, so records added meanwhile ride
 * along without holding their own requests open or arming timers of their own. Only plain data
 * crosses between requests, never a promise or I/O object (Workers forbids those across requests).
 */
function createRecorder(queue: Queue<UsageMessage>): UsageRecorder {
  let calls: CallRecord[] = [];
  let failures: AuthFailureRecord[] = [];
  /** When the scheduled flush should long have run; 0 when none is scheduled. */
  let flushOverdueAt = 0;

  function scheduleFlush(ctx: ExecutionContext): void {
    if (calls.length + failures.length >= FLUSH_AT_RECORDS) return ctx.waitUntil(flush());
    const now = Date.now();
    if (flushOverdueAt !== 0 && now < flushOverdueAt) return;
    flushOverdueAt = now + FLUSH_DELAY_MS + FLUSH_OVERDUE_MS;
    ctx.waitUntil(new Promise((resolve) => setTimeout(resolve, FLUSH_DELAY_MS)).then(flush));
  }

  async function flush(): Promise<void> {
    flushOverdueAt = 0;
    if (calls.length === 0 && failures.length === 0) return;
    const messages = toMessages(calls, failures);
    calls = [];
    failures = [];
    for (let i = 0; i < messages.length; i += MESSAGES_PER_SEND) {
      try {
        await queue.sendBatch(messages.slice(i, i + MESSAGES_PER_SEND).map((body) => ({ body })));
      } catch (err) {
        // Keep what was not sent; the next request's flush tries again.
        const unsent = messages.slice(i);
        calls = unsent.flatMap((m) => m.calls).concat(calls);
        failures = unsent.flatMap((m) => m.failures).concat(failures);
        const dropped = trimOldest();
        // At most once per interval: a queue that is down fails every flush, and must not flood the log.
        logThrottled("usage-queue", `usage queue send failed; will retry on the next flush (buffered: ${calls.length + failures.length}, dropped: ${dropped})`, err);
        return;
      }
    }
  }

  function trimOldest(): number {
    const excess = calls.length + failures.length - MAX_BUFFERED;
    if (excess <= 0) return 0;
    const fromFailures = Math.min(excess, failures.length);
    failures = failures.slice(fromFailures);
    calls = calls.slice(excess - fromFailures);
    return excess;
  }

  return {
    call(ctx, record) {
      calls.push(record);
      scheduleFlush(ctx);
    },
    authFailure(ctx, record) {
      failures.push(record);
      scheduleFlush(ctx);
    },
  };
}

export function toMessages(calls: CallRecord[], failures: AuthFailureRecord[]): UsageMessage[] {
  const messages: UsageMessage[] = [];
  for (let i = 0; i < calls.length; i += RECORDS_PER_MESSAGE) messages.push({ calls: calls.slice(i, i + RECORDS_PER_MESSAGE), failures: [] });
  for (let i = 0; i < failures.length; i += RECORDS_PER_MESSAGE) messages.push({ calls: [], failures: failures.slice(i, i + RECORDS_PER_MESSAGE) });
  return messages;
}

/** The path as recorded: without query, cut to MAX_RECORDED_PATH characters. */
export function recordedPath(pathname: string): string {
  return pathname.length > MAX_RECORDED_PATH ? pathname.slice(0, MAX_RECORDED_PATH) : pathname;
}
