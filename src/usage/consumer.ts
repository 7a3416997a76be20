import type { Env } from "../env";
import type { UsageMessage } from "./record";

export async function consumeUsage(batch: MessageBatch<UsageMessage>, _env: Env): Promise<void> {
  batch.ackAll();
}
