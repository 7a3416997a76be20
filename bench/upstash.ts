// The Upstash backend's store for the benchmark: a real redis-server behind the project's
// Upstash-REST-compatible bridge, both from the test infrastructure in test/node/ (one bridge in
// the project, not a second one here).
export interface UpstashStore {
  /** UPSTASH_REDIS_REST_URL for the gateway */
  url: string;
  /** UPSTASH_REDIS_REST_TOKEN for the gateway */
  token: string;
  stop(): Promise<void>;
}

export async function startUpstashStore(): Promise<UpstashStore> {
  throw new Error("the redis-server launcher and Upstash REST bridge (test/node/) are not in the tree yet");
}
