// Runs in Node before the workerd test pool starts: real servers the worker talks to over loopback.
import { randomBytes } from "node:crypto";
import type { TestProject } from "vitest/node";
import { startDemoOrigin } from "../scripts/demo-origin.ts";
import { startLeakFixtures } from "./node/leak-fixtures.ts";
import { startRedisServer } from "./node/redis-server.ts";
import { startBridgeControl, startUpstashBridge } from "./node/upstash-bridge.ts";

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const origin = await startDemoOrigin();
  project.provide("originUrl", origin.url);

  // The Upstash backend's store: a real redis-server behind an Upstash-REST-compatible bridge, plus a
  // control endpoint that hands tests bridges of their own to stop, restart or slow down.
  const redis = await startRedisServer();
  const token = randomBytes(24).toString("hex");
  const bridge = await startUpstashBridge({ redisPort: redis.port, token });
  const control = await startBridgeControl({ redisPort: redis.port, token });
  project.provide("upstashUrl", bridge.url);
  project.provide("upstashToken", token);
  project.provide("redisBridgeControlUrl", control.url);

  // GitHub's public keys endpoint and a webhook receiver (SPEC §10), verifying with the secret the worker signs with.
  const webhookSecret = `whsec_${randomBytes(32).toString("base64")}`;
  const fixtures = await startLeakFixtures({ webhookSecret });
  project.provide("leakFixturesUrl", fixtures.url);
  project.provide("webhookSecret", webhookSecret);

  return async () => {
    await fixtures.close();
    await control.close();
    await bridge.close();
    await redis.stop();
    origin.server.closeAllConnections();
    await new Promise<void>((resolve) => origin.server.close(() => resolve()));
  };
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
