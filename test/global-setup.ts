// Runs in Node before the workerd test pool starts: real servers the worker talks to over loopback.
import { randomBytes } from "node:crypto";
import type { Server } from "node:http";
import type { TestProject } from "vitest/node";
import { startDemoOrigin } from "../scripts/demo-origin.ts";
import { startLeakFixtures } from "./node/leak-fixtures.ts";
import { startRedisServer } from "./node/redis-server.ts";
import { startBridgeControl, startUpstashBridge } from "./node/upstash-bridge.ts";
import { findProgram, SYSTEM_PROGRAMS } from "./system-programs.ts";

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  // Everything started so far, stopped newest first: at teardown, and also when a later step fails here
  // (e.g. redis-server cannot start), since vitest never calls the teardown of a setup that threw, and a
  // server left listening keeps the process alive after the run ("close timed out … Vite servers").
  const started: Array<() => Promise<void>> = [];
  const teardown = async () => {
    for (const stop of started.reverse()) await stop().catch(() => undefined);
  };
  try {
    const origin = await startDemoOrigin();
    started.push(() => closeServer(origin.server));
    project.provide("originUrl", origin.url);

    // GitHub's public keys endpoint and a webhook receiver (SPEC §10), verifying with the secret the worker signs with.
    const webhookSecret = `whsec_${randomBytes(32).toString("base64")}`;
    const fixtures = await startLeakFixtures({ webhookSecret });
    started.push(() => fixtures.close());
    project.provide("leakFixturesUrl", fixtures.url);
    project.provide("webhookSecret", webhookSecret);

    // The Upstash backend's store: a real redis-server behind an Upstash-REST-compatible bridge, plus a
    // control endpoint that hands tests bridges of their own to stop, restart or slow down.
    // Without redis-server (and not under CI) the suites that need it are excluded (vitest.config.ts).
    const redisProgram = SYSTEM_PROGRAMS.find((entry) => entry.program === "redis-server")!;
    if (!findProgram(redisProgram) && process.env.CI !== "true") {
      project.provide("upstashUrl", "");
      project.provide("upstashToken", "");
      project.provide("redisBridgeControlUrl", "");
      return teardown;
    }
    const redis = await startRedisServer();
    started.push(() => redis.stop());
    const token = randomBytes(24).toString("hex");
    const bridge = await startUpstashBridge({ redisPort: redis.port, token });
    started.push(() => bridge.close());
    const control = await startBridgeControl({ redisPort: redis.port, token });
    started.push(() => control.close());
    project.provide("upstashUrl", bridge.url);
    project.provide("upstashToken", token);
    project.provide("redisBridgeControlUrl", control.url);
    return teardown;
  } catch (err) {
    await teardown();
    throw err;
  }
}

async function closeServer(server: Server): Promise<void> {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
}

declare module "vitest" {
  export interface ProvidedContext {
    originUrl: string;
    upstashUrl: string;
    upstashToken: string;
    redisBridgeControlUrl: string;
    leakFixturesUrl: string;
    webhookSecret: string;
  }
}
