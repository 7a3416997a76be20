// Where the time goes: a V8 CPU profile of one worker in workerd, taken over the DevTools protocol
// (workerd's inspector, enabled with Miniflare's `inspectorPort`) while a load window runs, then
// folded into self time per function. JS time only: what workerd does in C++ (HTTP parsing, the
// KV/D1/DO simulators' storage) shows as "(program)" or in those simulators' own isolates.
import { writeFile } from "node:fs/promises";

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}

export interface CpuProfile {
  nodes: Array<{ id: number; callFrame: CallFrame }>;
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

/**
 * Profiles the isolates of `targets` (workerd service names such as "core:user:gateway" or
 * "outbound:0") of one workerd while `during` runs.
 */
export async function profileWhile<T>(inspectorPort: number, targets: readonly string[], during: () => Promise<T>, samplingIntervalUs = 250): Promise<{ profiles: Map<string, CpuProfile>; result: T }> {
  const sessions = await Promise.all(targets.map((target) => openSession(inspectorPort, target)));
  try {
    for (const session of sessions) {
      await session.send("Profiler.enable");
      await session.send("Profiler.setSamplingInterval", { interval: samplingIntervalUs });
    }
    await Promise.all(sessions.map((session) => session.send("Profiler.start")));
    const result = await during();
    const stopped = await Promise.all(sessions.map((session) => session.send("Profiler.stop") as Promise<{ profile: CpuProfile }>));
    return { profiles: new Map(targets.map((target, i) => [target, stopped[i]!.profile])), result };
  } finally {
    for (const session of sessions) session.close();
  }
}

interface InspectorSession {
  send(method: string, params?: object): Promise<unknown>;
  close(): void;
}

async function openSession(inspectorPort: number, target: string): Promise<InspectorSession> {
  const socket = new WebSocket(`ws://127.0.0.1:${inspectorPort}/${target}`);
  await new Promise<void>((resolve, reject) => {
    socket.addEventListener("open", () => resolve(), { once: true });
    socket.addEventListener("error", () => reject(new Error(`cannot open the inspector for ${target}`)), { once: true });
  });
  let nextId = 0;
  const pending = new Map<number, (value: unknown) => void>();
  socket.addEventListener("message", (event) => {
    const message = JSON.parse(String(event.data)) as { id?: number; result?: unknown };
    if (message.id !== undefined) pending.get(message.id)?.(message.result);
  });
  return {
    send: (method, params = {}) =>
      new Promise<unknown>((resolve) => {
        const id = ++nextId;
        pending.set(id, resolve);
        socket.send(JSON.stringify({ id, method, params }));
      }),
    close: () => socket.close(),
  };
}

/** Milliseconds the isolate was busy (every sample but idle ones). */
export function busyMs(profile: CpuProfile): number {
  const idle = new Set(profile.nodes.filter((node) => node.callFrame.functionName === "(idle)").map((node) => node.id));
  return profile.samples.reduce((sum, nodeId, i) => sum + (idle.has(nodeId) ? 0 : (profile.timeDeltas[i] ?? 0)), 0) / 1000;
}

export interface HotFunction {
  name: string;
  selfMs: number;
  share: number;
}

/** Self time per function (name and source position), largest first; idle time left out of the shares. */
export function hotFunctions(profile: CpuProfile, limit: number): HotFunction[] {
  const frames = new Map(profile.nodes.map((node) => [node.id, node.callFrame]));
  const selfUs = new Map<string, number>();
  profile.samples.forEach((nodeId, i) => {
    const frame = frames.get(nodeId);
    if (!frame || frame.functionName === "(idle)") return;
    const file = frame.url ? frame.url.slice(frame.url.lastIndexOf("/") + 1) : "";
    const name = `${frame.functionName || "(anonymous)"}${file ? ` ${file}:${frame.lineNumber + 1}` : ""}`;
    selfUs.set(name, (selfUs.get(name) ?? 0) + (profile.timeDeltas[i] ?? 0));
  });
  const busyUs = [...selfUs.values()].reduce((a, b) => a + b, 0);
  return [...selfUs.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, limit)
    .map(([name, us]) => ({ name, selfMs: us / 1000, share: busyUs > 0 ? us / busyUs : 0 }));
}

export async function writeProfile(path: string, profile: CpuProfile): Promise<void> {
  await writeFile(path, JSON.stringify(profile));
}
