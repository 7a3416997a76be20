// The producer side: how records are packed and when they leave the isolate. The real queue is
// exercised end to end in pipeline.test.ts; here a recording stand-in for the USAGE_QUEUE binding
// shows what was sent, and can refuse a send to prove nothing is lost when the queue fails.
import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { type CallRecord, recordedPath, toMessages, type UsageMessage, usageRecorder } from "../../src/usage/record";

const call = (i: number): CallRecord => ({ keyId: "key_1", orgId: "org_1", method: "GET", path: `/p/${i}`, status: 200, latencyMs: 1, at: 1_000 + i });

function recordingQueue(failFirst = 0) {
  const sent: UsageMessage[][] = [];
  let failures = failFirst;
  const queue = {
    async sendBatch(messages: Iterable<MessageSendRequest<UsageMessage>>) {
      if (failures > 0) {
        failures--;
        throw new Error("queue unavailable");
      }
      sent.push([...messages].map((m) => m.body));
      return {} as QueueSendBatchResponse;
    },
  } as unknown as Queue<UsageMessage>;
  return { queue, sent };
}

describe("usage records", () => {
  it("are packed 25 to a message, calls and failures apart", () => {
    const failure = { source: "ip", reason: "invalid_key" as const, keyId: null, orgId: null, at: 1 };
    const messages = toMessages(Array.from({ length: 60 }, (_, i) => call(i)), [failure, failure, failure]);
    expect(messages.map((m) => [m.calls.length, m.failures.length])).toEqual([
      [25, 0],
      [25, 0],
      [10, 0],
      [0, 3],
    ]);
    expect(messages.flatMap((m) => m.calls).map((c) => c.path)).toEqual(Array.from({ length: 60 }, (_, i) => `/p/${i}`));
  });

  it("from many requests leave together in one send, held open by the first request only", async () => {
    const { queue, sent } = recordingQueue();
    const recorder = usageRecorder(queue);
    const first = createExecutionContext();
    recorder.call(first, call(0));
    for (let i = 1; i < 10; i++) recorder.call(createExecutionContext(), call(i));
    expect(sent).toEqual([]);
    await waitOnExecutionContext(first);
    expect(sent).toHaveLength(1);
    expect(sent[0]!.flatMap((m) => m.calls)).toHaveLength(10);
  });

  it("go out at once when the buffer is full", async () => {
    const { queue, sent } = recordingQueue();
    const recorder = usageRecorder(queue);
    const contexts = Array.from({ length: 500 }, () => createExecutionContext());
    contexts.forEach((ctx, i) => recorder.call(ctx, call(i)));
    await waitOnExecutionContext(contexts[499]!);
    expect(sent.flat().flatMap((m) => m.calls)).toHaveLength(500);
  });

  it("survive a failed send and go out with the next flush", async () => {
    const { queue, sent } = recordingQueue(1);
    const recorder = usageRecorder(queue);
    const ctx1 = createExecutionContext();
    recorder.call(ctx1, call(1));
    await waitOnExecutionContext(ctx1);
    expect(sent).toEqual([]);
    const ctx2 = createExecutionContext();
    recorder.call(ctx2, call(2));
    await waitOnExecutionContext(ctx2);
    expect(sent.flat().flatMap((m) => m.calls).map((c) => c.path)).toEqual(["/p/1", "/p/2"]);
  });

  it("keep paths short whatever a client sends", () => {
    expect(recordedPath("/a")).toBe("/a");
    expect(recordedPath("/" + "x".repeat(5000))).toHaveLength(256);
  });
});
