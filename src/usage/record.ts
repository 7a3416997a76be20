/**
 * SPEC §8: what the hot path records, and how it leaves the isolate without a D1 write.
 * Calls are aggregated in the isolate per (key, minute, status class): a count, the max and a
 * fixed latency histogram (store/histogram.ts). Every flush interval the aggregates, each key's latest calls
 * (up to 100) and the aggregated auth failures go through USAGE_QUEUE from
 * `ctx.waitUntil`, after the response is on its way; the consumer (consumer.ts) upserts them.
 * So the queue and D1 carry O(keys x minutes) rows whatever the call volume.
 * No record ever holds an API key: calls carry the key's id, failures at most the id of the key.
 */
import { logThrottled } from "../log";
import type { AuthFailureReason } from "../store/auth_failures";
import { bucketOf, HISTOGRAM_BUCKETS } from "../store/histogram";
import { RECENT_PER_KEY } from "../store/usage";
import { type FailureAggregate, type RecentCall, type UsageAggregate, USAGE_MESSAGE_VERSION, type UsageMessage } from "../store/usage_message";

/** One proxied or refused call by a known, valid key, as the gateway hands it over. */
export interface CallRecord extends RecentCall {
  /** The matched ROUTES pattern ("" when none matched); for Analytics Engine, where paths would explode cardinality. */
  route: string;
}

/** One failed authentication. keyId/orgId only when the key exists (revoked or expired). */
export interface AuthFailureRecord {
  /** Client IP (CF-Connecting-IP), or "unknown". */
  source: string;
  reason: AuthFailureReason;
  keyId: string | null;
  orgId: string | null;
  at: number;
}

/** Paths longer than this are cut: a record must stay small whatever a client sends. */
export const MAX_RECORDED_PATH = 256;
/**
 * Each isolate sends at most this many of a key's latest calls per flush: as many as D1 keeps per key
 * (RECENT_PER_KEY), so "recent" is the key's last 100 calls, not a handful of them, wherever the key
 * is served from one isolate; a busy key costs D1 at most this many row writes per isolate and flush,
 * whatever its call rate.
 */
export const RECENT_SAMPLE_PER_FLUSH = RECENT_PER_KEY;
/** Recent calls held in the isolate before a flush is forced: bounds memory (~200 bytes each) under floods of distinct keys. */
const FLUSH_AT_RECENT = 20_000;
/** Default flush interval; USAGE_FLUSH_INTERVAL_MS overrides it. */
export const DEFAULT_FLUSH_INTERVAL_MS = 10_000;
/** A message's estimated JSON size stays under this, far from Queues' 128 KB per message. */
const MESSAGE_BUDGET_BYTES = 96 * 1024;
/** Messages per sendBatch: under both its 100-message and 256 KB limits. */
const MESSAGES_PER_SEND = 2;
/** Aggregates or failure groups held in the isolate before a flush is forced (bounds memory under floods of distinct keys or sources). */
const FLUSH_AT_ENTRIES = 5_000;
/** A scheduled flush that has not run by then is presumed lost with its request, and replaced. */
const FLUSH_OVERDUE_MS = 5_000;
/** Unsent messages held back while the queue is failing; beyond this the oldest are dropped (and counted in the log). */
const MAX_PENDING_MESSAGES = 200;
/** Longest recorded method and source: the consumer drops messages with longer ones as malformed. */
const MAX_METHOD = 16;
const MAX_SOURCE = 64;
/** What a drain waits for: messages sent this recently may still be in the queue (its batch timeout is seconds). */
const RECENTLY_SENT_MS = 60_000;
const RECENTLY_SENT_MAX = 1_000;
const MINUTE_MS = 60_000;
const HOUR_MS = 3_600_000;

export interface UsageRecorder {
  call(ctx: ExecutionContext, record: CallRecord): void;
  authFailure(ctx: ExecutionContext, record: AuthFailureRecord): void;
  /**
   * Sends everything buffered now (shutdown/drain); resolves with the ids of every message this
   * isolate sent in the last minute, this flush's included: what may still wait in the queue.
   */
  flush(): Promise<string[]>;
}

export interface RecorderOptions {
  flushIntervalMs?: number;
  /** Optional Analytics Engine dataset: one data point per call. */
  events?: AnalyticsEngineDataset;
}

/** A key's buffered state: its aggregates by minute (one slot per status class) and a ring of its latest calls. */
interface KeyBuffer {
  orgId: string;
  minutes: Map<number, (UsageAggregate | undefined)[]>;
  recent: RecentCall[];
  /** Next ring slot to overwrite once `recent` is full. */
  next: number;
}

/**
 * A new usage buffer; the isolate keeps one per queue binding (src/isolate.ts), so the gateway and
 * the management API's flush share it.
 * One delayed flush per buffer at a time. The request that schedules it holds it in its own
 * waitUntil; when it wakes it sends everything buffered by then, so calls recorded meanwhile ride
 * along without holding their own requests open or arming timers of their own. Only plain data
 * crosses between requests, never a promise or I/O object (Workers forbids those across requests).
 * Per call the hot path does two Map lookups, a few integer operations and one ring store;
 * objects are allocated only for a key's first call in a minute and status class.
 */
export function usageRecorder(queue: Queue<UsageMessage>, options: RecorderOptions = {}): UsageRecorder {
  const flushIntervalMs = options.flushIntervalMs ?? DEFAULT_FLUSH_INTERVAL_MS;
  const events = options.events;
  let keys = new Map<string, KeyBuffer>();
  let failures = new Map<string, FailureAggregate>();
  let entries = 0;
  /** Recent calls held across all keys' rings. */
  let recentHeld = 0;
  let pending: UsageMessage[] = [];
  /** Ids and send times of recently sent messages, oldest first (bounded: RECENTLY_SENT_MAX, RECENTLY_SENT_MS). */
  let recentlySent: { id: string; at: number }[] = [];
  /** When the scheduled flush should long have run; 0 when none is scheduled. */
  let flushOverdueAt = 0;

  function scheduleFlush(ctx: ExecutionContext): void {
    if (entries >= FLUSH_AT_ENTRIES || recentHeld >= FLUSH_AT_RECENT) return ctx.waitUntil(flush().then(() => undefined));
    const now = Date.now();
    if (flushOverdueAt !== 0 && now < flushOverdueAt) return;
    flushOverdueAt = now + flushIntervalMs + FLUSH_OVERDUE_MS;
    ctx.waitUntil(new Promise((resolve) => setTimeout(resolve, flushIntervalMs)).then(() => flush()));
  }

  async function flush(): Promise<string[]> {
    flushOverdueAt = 0;
    const sent = () => {
      const since = Date.now() - RECENTLY_SENT_MS;
      recentlySent = recentlySent.filter((m) => m.at >= since).slice(-RECENTLY_SENT_MAX);
      return recentlySent.map((m) => m.id);
    };
    const messages = pending.concat(toMessages(keys, failures));
    keys = new Map();
    failures = new Map();
    entries = 0;
    recentHeld = 0;
    pending = [];
    for (let i = 0; i < messages.length; i += MESSAGES_PER_SEND) {
      try {
        const chunk = messages.slice(i, i + MESSAGES_PER_SEND);
        await queue.sendBatch(chunk.map((body) => ({ body, contentType: "json" })));
        const at = Date.now();
        for (const message of chunk) recentlySent.push({ id: message.id, at });
      } catch (err) {
        // Kept as built (same ids), so a send that did land after all is not counted twice.
        pending = messages.slice(i).concat(pending);
        const dropped = Math.max(0, pending.length - MAX_PENDING_MESSAGES);
        if (dropped > 0) pending = pending.slice(dropped);
        // At most once per interval: a queue that is down fails every flush, and must not flood the log.
        logThrottled("usage-queue", `usage queue send failed; will retry on the next flush (pending messages: ${pending.length}, dropped: ${dropped})`, err);
        return sent();
      }
    }
    return sent();
  }

  return {
    call(ctx, record) {
      if (events) writeDataPoint(events, record);
      let buffer = keys.get(record.keyId);
      if (!buffer) {
        buffer = { orgId: record.orgId, minutes: new Map(), recent: [], next: 0 };
        keys.set(record.keyId, buffer);
      }
      const minute = record.at - (record.at % MINUTE_MS);
      let classes = buffer.minutes.get(minute);
      if (!classes) {
        classes = [];
        buffer.minutes.set(minute, classes);
      }
      const statusClass = Math.min(5, Math.max(1, Math.floor(record.status / 100)));
      let aggregate = classes[statusClass];
      if (!aggregate) {
        aggregate = { keyId: record.keyId, orgId: record.orgId, minute, statusClass, count: 0, maxMs: 0, histogram: new Array<number>(HISTOGRAM_BUCKETS).fill(0) };
        classes[statusClass] = aggregate;
        entries++;
      }
      aggregate.count++;
      if (record.latencyMs > aggregate.maxMs) aggregate.maxMs = record.latencyMs;
      aggregate.histogram[bucketOf(record.latencyMs)]!++;
      // The ring keeps the record itself: the gateway built it for this call anyway.
      if (record.method.length > MAX_METHOD) record.method = record.method.slice(0, MAX_METHOD);
      if (buffer.recent.length < RECENT_SAMPLE_PER_FLUSH) {
        buffer.recent.push(record);
        recentHeld++;
      } else {
        buffer.recent[buffer.next] = record;
        buffer.next = (buffer.next + 1) % RECENT_SAMPLE_PER_FLUSH;
      }
      scheduleFlush(ctx);
    },
    authFailure(ctx, record) {
      const hour = record.at - (record.at % HOUR_MS);
      // CF-Connecting-IP is at most 45 characters; anything longer came from elsewhere and is cut, not trusted to fit.
      const source = record.source.length > MAX_SOURCE ? record.source.slice(0, MAX_SOURCE) : record.source;
      const bucket = `${record.orgId ?? ""}|${record.keyId ?? ""}|${source}|${record.reason}|${hour}`;
      const group = failures.get(bucket);
      if (group) {
        group.count++;
        if (record.at < group.firstAt) group.firstAt = record.at;
        if (record.at > group.lastAt) group.lastAt = record.at;
      } else {
        failures.set(bucket, { source, reason: record.reason, keyId: record.keyId, orgId: record.orgId, hour, count: 1, firstAt: record.at, lastAt: record.at });
        entries++;
      }
      scheduleFlush(ctx);
    },
    flush,
  };
}

/** Everything buffered, packed into messages under MESSAGE_BUDGET_BYTES each (sizes estimated, generously). */
export function toMessages(keys: Map<string, KeyBuffer>, failures: Map<string, FailureAggregate>): UsageMessage[] {
  const messages: UsageMessage[] = [];
  let current: UsageMessage | null = null;
  let size = 0;
  const room = (bytes: number): UsageMessage => {
    if (!current || size + bytes > MESSAGE_BUDGET_BYTES) {
      current = { v: USAGE_MESSAGE_VERSION, id: messageId(), aggregates: [], recent: [], failures: [] };
      messages.push(current);
      size = 200;
    }
    size += bytes;
    return current;
  };
  for (const buffer of keys.values()) {
    for (const classes of buffer.minutes.values()) {
      for (const aggregate of classes) if (aggregate) room(2 * (aggregate.keyId.length + aggregate.orgId.length) + 400).aggregates.push(aggregate);
    }
    // Oldest first (the ring's oldest slot is `next`): the consumer's row ids then follow the calls'
    // order, which breaks ties between calls of the same millisecond in "newest first".
    const ring = buffer.recent;
    for (let i = 0; i < ring.length; i++) {
      const { keyId, orgId, method, path, status, latencyMs, at } = ring[(buffer.next + i) % ring.length]!;
      room(2 * (keyId.length + orgId.length + method.length + path.length) + 200).recent.push({ keyId, orgId, method, path, status, latencyMs, at });
    }
  }
  for (const group of failures.values()) room(2 * (group.source.length + (group.keyId?.length ?? 0) + (group.orgId?.length ?? 0)) + 300).failures.push(group);
  return messages;
}

/** 128 random bits in 22 characters (base64url): D1 stores one per message in usage_applied, so shorter than a UUID. */
function messageId(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return btoa(String.fromCharCode(...bytes)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

/** SPEC §8: one Analytics Engine data point per call. Index: the key id, so per-key queries sample per key. */
function writeDataPoint(events: AnalyticsEngineDataset, record: CallRecord): void {
  try {
    events.writeDataPoint({
      indexes: [record.keyId],
      blobs: [record.orgId, record.keyId, record.method, record.route, String(record.status)],
      doubles: [record.latencyMs, 1],
    });
  } catch (err) {
    // Analytics is best effort: a failing binding must never fail or slow the call it describes.
    console.error("keygate: Analytics Engine write failed", err instanceof Error ? err.message : String(err));
  }
}

/** The path as recorded: without query, cut to MAX_RECORDED_PATH characters. */
export function recordedPath(pathname: string): string {
  return pathname.length > MAX_RECORDED_PATH ? pathname.slice(0, MAX_RECORDED_PATH) : pathname;
}
