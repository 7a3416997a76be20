// `node bench/usage-record.ts [--calls 1000000]`: the hot-path cost of usage recording (issue 19.8), as
// a micro benchmark in Node's V8 (the engine workerd runs), not a timing assertion in a unit test.
//
// Measured per call, CPU time (process.cpuUsage), after a warm-up, over 100 keys:
//  - now (SPEC §8): `usageRecorder(...).call()` as src/gateway/index.ts calls it, the record object
//    built per call included; then the same plus each flush's message packing and serialization
//    (a flush every 10,000 calls, ~10 s of a busy isolate), amortized per call.
//  - before: a replica of the pre-§8 producer (every call pushed to a buffer, sent as 25-record
//    messages every 50 ms), packing and serialization amortized the same way. Its consumer then
//    wrote one D1 row per call, a cost this benchmark does not even count.
// The queue is a stand-in that serializes what it is sent (JSON, like the binding's clone) and counts bytes.
import { parseArgs } from "node:util";
import { tsImport } from "tsx/esm/api";

type Recorder = { call(ctx: unknown, record: unknown): void; flush(): Promise<string[]> };
const { usageRecorder } = (await tsImport("../src/usage/record.ts", import.meta.url)) as { usageRecorder(queue: unknown, options: { flushIntervalMs: number }): Recorder };

const { values } = parseArgs({ options: { calls: { type: "string", default: "1000000" } } });
const CALLS = Number(values.calls);
const KEYS = Array.from({ length: 100 }, (_, i) => `key_${String(i).padStart(20, "0")}`);
const FLUSH_EVERY = 10_000;
const ctx = { waitUntil() {}, passThroughOnException() {} };

function queue() {
  const sent = { bytes: 0, messages: 0 };
  return {
    sent,
    sendBatch: async (messages: Iterable<{ body: unknown }>) => {
      for (const message of messages) {
        sent.bytes += JSON.stringify(message.body).length;
        sent.messages++;
      }
    },
  };
}

const recordOf = (i: number, now: number) => ({
  keyId: KEYS[i % KEYS.length]!,
  orgId: "org_8hQ2vN5mXcR1tLp0WzKa",
  method: "GET",
  path: "/demo/items",
  route: "/demo/*",
  status: i % 50 === 0 ? 404 : 200,
  latencyMs: i % 37,
  at: now,
});

function cpuMicros(): number {
  const usage = process.cpuUsage();
  return usage.user + usage.system;
}

async function measureNow(calls: number, withFlush: boolean) {
  const q = queue();
  const recorder = usageRecorder(q, { flushIntervalMs: 20_000 });
  const start = cpuMicros();
  const now = Date.now();
  for (let i = 0; i < calls; i++) {
    recorder.call(ctx, recordOf(i, now + (i >> 4)));
    if (withFlush && i % FLUSH_EVERY === FLUSH_EVERY - 1) await recorder.flush();
  }
  if (withFlush) await recorder.flush();
  return { nsPerCall: ((cpuMicros() - start) * 1000) / calls, ...q.sent };
}

/** The producer before SPEC §8: one record per call in a buffer, 25 to a message. */
async function measureBefore(calls: number) {
  const q = queue();
  let buffer: ReturnType<typeof recordOf>[] = [];
  const flush = async () => {
    const messages = [];
    for (let i = 0; i < buffer.length; i += 25) messages.push({ body: { calls: buffer.slice(i, i + 25), failures: [] } });
    buffer = [];
    for (let i = 0; i < messages.length; i += 20) await q.sendBatch(messages.slice(i, i + 20));
  };
  const start = cpuMicros();
  const now = Date.now();
  for (let i = 0; i < calls; i++) {
    buffer.push(recordOf(i, now + (i >> 4)));
    if (i % 500 === 499) await flush(); // its FLUSH_AT_RECORDS; at 10k calls/s the 50 ms timer fires at the same rate
  }
  await flush();
  return { nsPerCall: ((cpuMicros() - start) * 1000) / calls, ...q.sent };
}

// Warm-up: let V8 optimize each path before it is measured.
await measureNow(200_000, true);
await measureBefore(200_000);

const hot = await measureNow(CALLS, false);
const now = await measureNow(CALLS, true);
const before = await measureBefore(CALLS);
const per100k = (bytes: number) => `${((bytes / CALLS) * 100_000 / 1024).toFixed(0)} KiB`;
console.log(`usage recording, ${CALLS} calls over ${KEYS.length} keys (CPU time per call, Node ${process.versions.node} / V8 ${process.versions.v8})`);
console.log(`  now, call() only                    ${hot.nsPerCall.toFixed(0)} ns`);
console.log(`  now, with flushes (every ${FLUSH_EVERY})    ${now.nsPerCall.toFixed(0)} ns   queue: ${now.messages} messages, ${per100k(now.bytes)} per 100k calls`);
console.log(`  before (per-call records)           ${before.nsPerCall.toFixed(0)} ns   queue: ${before.messages} messages, ${per100k(before.bytes)} per 100k calls`);
