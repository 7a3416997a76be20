// Runs in Node before the workerd test pool starts: real servers the worker talks to over loopback.
import type { TestProject } from "vitest/node";
import { startDemoOrigin } from "../scripts/demo-origin.ts";

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const origin = await startDemoOrigin();
  project.provide("originUrl", origin.url);
  return async () => {
    origin.server.closeAllConnections();
    await new Promise<void>((resolve) => origin.server.close(() => resolve()));
  };
}

declare module "vitest" {
  export interface ProvidedContext {
    originUrl: string;
  }
}
