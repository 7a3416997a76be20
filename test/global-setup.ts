// Runs in Node before the workerd test pool starts: real servers the worker talks to over loopback.
import { randomBytes } from "node:crypto";
import type { Server } from "node:http";
import type { TestProject } from "vitest/node";
import { startDemoOrigin } from "../scripts/demo-origin.ts";
import { startRedisServer } from "./node/redis-server.ts";
import { startBridgeControl, startUpstashBridge } from "./node/upstash-bridge.ts";
import { findProgram, SYSTEM_PROGRAMS } from "./system-programs.ts";

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const origin = await startDemoOrigin();
  project.provide("originUrl", origin.url);

  // The Upstash backend's store: a real redis-server behind an Upstash-REST-compatible bridge, plus a
  // control endpoint that hands tests bridges of their own to stop, restart or slow down.
  // Without redis-server (and not under CI) the suites that need it are excluded (vitest.config.ts).
  const redisProgram = SYSTEM_PROGRAMS.find((entry) => entry.program === "redis-server")!;
  if (!findProgram(redisProgram) && process.env.CI !== "true") {
    project.provide("upstashUrl", "");
    project.provide("upstashToken", "");
    project.provide("redisBridgeControlUrl", "");
    return () => closeOrigin(origin.server);
  }
  const redis = await startRedisServer();
  const token = randomBytes(24).toString("hex");
  const bridge = await startUpstashBridge({ redisPort: redis.port, token });
  const control = await startBridgeControl({ redisPort: redis.port, token });
  project.provide("upstashUrl", bridge.url);
  project.provide("upstashToken", token);
  project.provide("redisBridgeControlUrl", control.url);

  return async () => {
    await control.close();
    await bridge.close();
    await redis.stop();
    await closeOrigin(origin.server);
  };
}

async function closeOrigin(server: Server): Promise<void> {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
}

declare module "vitest" {
  export interface ProvidedContext {
    originUrl: string;
    upstashUrl: string;
    upstashToken: string;
    redisBridgeControlUrl: string;
  }
}
