// The producer side: how calls are aggregated in the isolate and when they leave it. The real queue
// is exercised end to end in pipeline.test.ts; here a recording stand-in for the USAGE_QUEUE binding
// shows what was sent, and can refuse a send to prove nothing is lost when the queue fails.
import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { bucketOf, HISTOGRAM_BUCKETS, LATENCY_BOUNDS_MS, summarize } from "../../src/store/histogram";
import type { UsageMessage } from "../../src/store/usage_message";
import { type CallRecord, RECENT_SAMPLE_PER_FLUSH, recordedPath, usageRecorder } from "../../src/usage/record";

const MINUTE = 60_000;
const T0 = 1_800_000_000_000; // a minute boundary
const call = (i: number, over: Partial<CallRecord> = {}): CallRecord => ({ keyId: "key_1", orgId: "org_1", method: "GET", path: `/p/${i}`, route: "/p/*", status: 200, latencyMs: 1, at: T0 + i, ...over });

function recordingQueue(failFirst = 0) {
  const sent: UsageMessage[][] = [];
  let failures = failFirst;
  const queue = {
    async sendBatch(messages: Iterable<MessageSendRequest<UsageMessage>>) {
      if (failures > 0) {
        failures--;
        throw new Error("queue unavailable");
      }
      // Structured clone, as the real binding serializes: later mutation in the isolate must not show.
      sent.push([...messages].map((m) => structuredClone(m.body)));
      return {} as QueueSendBatchResponse;
    },
  } as unknown as Queue<UsageMessage>;
  return { queue, sent, messages: () => sent.flat() };
}

describe("usage aggregation in the isolate", () => {
  it("turns many calls into one aggregate per key, minute and status class, with a latency histogram", async () => {
    const { queue, messages } = recordingQueue();
    const recorder = usageRecorder(queue, { flushIntervalMs: 10 });
    const ctx = createExecutionContext();
    for (let i = 0; i < 1000; i++) recorder.call(ctx, call(i, { latencyMs: i % 100 }));
    recorder.call(ctx, call(1, { status: 404, latencyMs: 7 }));
    recorder.call(ctx, call(MINUTE + 5, { status: 200, latencyMs: 2500 }));
    recorder.call(ctx, call(2, { keyId: "key_2", status: 503, latencyMs: 40_000 }));
    await waitOnExecutionContext(ctx);

    const sent = messages();
    expect(sent).toHaveLength(1);
    const aggregates = sent[0]!.aggregates.map(({ keyId, minute, statusClass, count, maxMs }) => [keyId, minute, statusClass, count, maxMs]);
    expect(aggregates.sort()).toEqual(
      [
        ["key_1", T0, 2, 1000, 99],
        ["key_1", T0, 4, 1, 7],
        ["key_1", T0 + MINUTE, 2, 1, 2500],
        ["key_2", T0, 5, 1, 40_000],
      ].sort(),
    );
    const first = sent[0]!.aggregates.find((a) => a.count === 1000)!;
    expect(first.histogram).toHaveLength(HISTOGRAM_BUCKETS);
    expect(first.histogram.reduce((a, b) => a + b, 0)).toBe(1000);
    // 0-99 ms, ten calls each: p50 is ~49 (its bucket's bound is 50), p99 ~98 (bound 100, capped by max 99).
    expect(summarize(first.histogram, first.maxMs)).toEqual({ p50: 50, p95: 99, p99: 99, max: 99 });
    const slow = sent[0]!.aggregates.find((a) => a.keyId === "key_2")!;
    expect(slow.histogram[HISTOGRAM_BUCKETS - 1]).toBe(1);
  });

  it("sends each key's latest 100 calls (what D1 keeps of it), oldest first, not every call", async () => {
    const { queue, messages } = recordingQueue();
    const recorder = usageRecorder(queue, { flushIntervalMs: 10 });
    const ctx = createExecutionContext();
    // All in one millisecond, as calls within one workerd request turn: only the order tells them apart.
    for (let i = 0; i < 537; i++) recorder.call(ctx, call(i, { at: T0 }));
    await waitOnExecutionContext(ctx);
    const recent = messages().flatMap((m) => m.recent);
    expect(RECENT_SAMPLE_PER_FLUSH).toBe(100);
    expect(recent.map((r) => r.path)).toEqual(Array.from({ length: 100 }, (_, i) => `/p/${437 + i}`));
    expect(recent[0]).not.toHaveProperty("route");
  });

  it("flushes early once it holds 20,000 recent calls, however long its interval", async () => {
    const { queue, messages } = recordingQueue();
    const recorder = usageRecorder(queue, { flushIntervalMs: 3_600_000 });
    const background: Promise<unknown>[] = [];
    const ctx = { waitUntil: (p: Promise<unknown>) => void background.push(p), passThroughOnException() {} } as unknown as ExecutionContext;
    for (let k = 0; k < 199; k++) for (let i = 0; i < 100; i++) recorder.call(ctx, call(i, { keyId: `key_${k}` }));
    expect(background).toHaveLength(1); // the interval's timer, nothing sent yet
    for (let i = 0; i < 100; i++) recorder.call(ctx, call(i, { keyId: "key_199" }));
    expect(background).toHaveLength(2); // the forced flush
    await background[1];
    expect(messages().flatMap((m) => m.recent)).toHaveLength(20_000);
  });

  it("aggregates failed authentications per org, key, source, reason and hour", async () => {
    const { queue, messages } = recordingQueue();
    const recorder = usageRecorder(queue, { flushIntervalMs: 10 });
    const ctx = createExecutionContext();
    for (let i = 0; i < 300; i++) recorder.authFailure(ctx, { source: "203.0.113.9", reason: "invalid_key", keyId: null, orgId: null, at: T0 + i });
    recorder.authFailure(ctx, { source: "203.0.113.9", reason: "key_revoked", keyId: "key_9", orgId: "org_9", at: T0 + 5 });
    recorder.authFailure(ctx, { source: "x".repeat(500), reason: "malformed_key", keyId: null, orgId: null, at: T0 });
    await waitOnExecutionContext(ctx);
    const failures = messages().flatMap((m) => m.failures);
    expect(failures.map((f) => [f.source.length, f.reason, f.count, f.firstAt, f.lastAt, f.hour])).toEqual([
      [11, "invalid_key", 300, T0, T0 + 299, T0 - (T0 % 3_600_000)],
      [11, "key_revoked", 1, T0 + 5, T0 + 5, T0 - (T0 % 3_600_000)],
      [64, "malformed_key", 1, T0, T0, T0 - (T0 % 3_600_000)],
    ]);
  });

  it("from many requests leave together in one send, held open by the first request only", async () => {
    const { queue, sent } = recordingQueue();
    const recorder = usageRecorder(queue, { flushIntervalMs: 20 });
    const first = createExecutionContext();
    recorder.call(first, call(0));
    for (let i = 1; i < 10; i++) recorder.call(createExecutionContext(), call(i));
    expect(sent).toEqual([]);
    await waitOnExecutionContext(first);
    expect(sent).toHaveLength(1);
    expect(sent[0]!.flatMap((m) => m.aggregates).map((a) => a.count)).toEqual([10]);
  });

  it("every message carries the current version and a unique id (the consumer's idempotency key)", async () => {
    const { queue, messages } = recordingQueue();
    const recorder = usageRecorder(queue, { flushIntervalMs: 10 });
    for (let round = 0; round < 3; round++) {
      const ctx = createExecutionContext();
      recorder.call(ctx, call(round));
      await waitOnExecutionContext(ctx);
    }
    const sent = messages();
    expect(sent.map((m) => m.v)).toEqual([2, 2, 2]);
    expect(new Set(sent.map((m) => m.id)).size).toBe(3);
  });

  it("splits a flood of distinct keys into messages under the queue's size limit", async () => {
    const { queue, messages } = recordingQueue();
    const recorder = usageRecorder(queue, { flushIntervalMs: 10 });
    const ctx = createExecutionContext();
    for (let i = 0; i < 3000; i++) recorder.call(ctx, call(i, { keyId: `key_${i.toString().padStart(20, "0")}`, path: "/" + "x".repeat(250) }));
    await waitOnExecutionContext(ctx);
    const sent = messages();
    expect(sent.length).toBeGreaterThan(1);
    for (const message of sent) expect(JSON.stringify(message).length).toBeLessThan(128 * 1024);
    expect(sent.flatMap((m) => m.aggregates)).toHaveLength(3000);
    expect(sent.flatMap((m) => m.recent)).toHaveLength(3000);
  });

  it("survive a failed send and go out, unchanged (same ids), with the next flush", async () => {
    const { queue, messages } = recordingQueue(1);
    const recorder = usageRecorder(queue, { flushIntervalMs: 10 });
    const ctx1 = createExecutionContext();
    recorder.call(ctx1, call(1));
    await waitOnExecutionContext(ctx1);
    expect(messages()).toEqual([]);
    const ctx2 = createExecutionContext();
    recorder.call(ctx2, call(2, { status: 500 }));
    await waitOnExecutionContext(ctx2);
    const sent = messages();
    expect(sent).toHaveLength(2);
    expect(sent.flatMap((m) => m.aggregates).map((a) => [a.statusClass, a.count])).toEqual([
      [2, 1],
      [5, 1],
    ]);
  });

  it("flush() sends what is buffered at once (the drain on shutdown)", async () => {
    const { queue, messages } = recordingQueue();
    const recorder = usageRecorder(queue, { flushIntervalMs: 60_000 });
    recorder.call(createExecutionContext(), call(1));
    await recorder.flush();
    expect(messages().flatMap((m) => m.aggregates).map((a) => a.count)).toEqual([1]);
  });

  it("writes one Analytics Engine data point per call when the binding is configured", async () => {
    const { queue } = recordingQueue();
    const points: AnalyticsEngineDataPoint[] = [];
    const events = { writeDataPoint: (point: AnalyticsEngineDataPoint) => points.push(point) } as AnalyticsEngineDataset;
    const recorder = usageRecorder(queue, { flushIntervalMs: 10, events });
    const ctx = createExecutionContext();
    recorder.call(ctx, call(1, { status: 404, latencyMs: 12 }));
    recorder.call(ctx, call(2, { route: "" }));
    await waitOnExecutionContext(ctx);
    expect(points).toEqual([
      { indexes: ["key_1"], blobs: ["org_1", "key_1", "GET", "/p/*", "404"], doubles: [12, 1] },
      { indexes: ["key_1"], blobs: ["org_1", "key_1", "GET", "", "200"], doubles: [1, 1] },
    ]);
  });

  it("a failing Analytics Engine binding never fails the call", async () => {
    const { queue, messages } = recordingQueue();
    const events = {
      writeDataPoint: () => {
        throw new Error("analytics down");
      },
    } as unknown as AnalyticsEngineDataset;
    const recorder = usageRecorder(queue, { flushIntervalMs: 10, events });
    const ctx = createExecutionContext();
    expect(() => recorder.call(ctx, call(1))).not.toThrow();
    await waitOnExecutionContext(ctx);
    expect(messages().flatMap((m) => m.aggregates)).toHaveLength(1);
  });

  it("keep paths short whatever a client sends", () => {
    expect(recordedPath("/a")).toBe("/a");
    expect(recordedPath("/" + "x".repeat(5000))).toHaveLength(256);
  });
});

describe("latency histogram", () => {
  it("puts each latency in the first bucket whose bound holds it", () => {
    expect(bucketOf(0)).toBe(0);
    expect(bucketOf(1)).toBe(0);
    expect(bucketOf(2)).toBe(1);
    expect(bucketOf(101)).toBe(LATENCY_BOUNDS_MS.indexOf(150));
    expect(bucketOf(30_000)).toBe(LATENCY_BOUNDS_MS.length - 1);
    expect(bucketOf(30_001)).toBe(LATENCY_BOUNDS_MS.length);
  });

  it("percentiles never under-report and are capped by the max", () => {
    const h = new Array<number>(HISTOGRAM_BUCKETS).fill(0);
    expect(summarize(h, 0)).toBeNull();
    h[bucketOf(3)] = 98;
    h[bucketOf(480)] = 2;
    expect(summarize(h, 480)).toEqual({ p50: 3, p95: 3, p99: 480, max: 480 });
  });
});
