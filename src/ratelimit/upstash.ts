import { Redis } from "@upstash/redis/cloudflare";
import { bucketExpiresAt, type Buckets, currentBucket, decide, type Operation, oldestLiveBucket, WINDOW_BUCKETS } from "./counters";
import { DEFAULT_LIMITER_TIMEOUT_MS, withDeadline } from "./durable_object_limiter";
import type { LimitAnswer, RateLimiter } from "./interface";
import type { LimitPlan } from "./policy";

export interface UpstashLimiterOptions {
  url: string;
  token: string;
  /** How long a decision may take before the store counts as unavailable (the failure mode decides). */
  timeoutMs?: number;
}

const KEY_PREFIX = "keygate:rl2";

/**
 * All of a plan's counters in one script, so one request is one round trip and the decision is
 * atomic across them. Each counter is a hash `bucket index -> units`, plus `w -> window ms` for a
 * window; per counter ARGV carries the oldest live bucket, the bucket to spend into, the limit, the
 * key's TTL and the window (0 for a quota), all computed by counters.ts in the Worker, so Lua and
 * TypeScript agree to the bucket; ARGV[3] is the Worker's clock. The script drops dead buckets,
 * carries a counter whose window changed length over as counters.ts `carryOver` does (what is live
 * under the old length counts as spent in the current bucket; stored so at once, whatever the operation), admits when every counter has room
 * for the cost (`check`), spends the cost on all of them (`check` when admitted, `record` always; a
 * negative `record` takes units back from the newest buckets, never below zero), and answers every
 * counter's live buckets as they were before spending, from which the Worker computes remaining and
 * reset with the same code as the DO.
 */
const DECIDE_SCRIPT = `
local op = ARGV[1]
local cost = tonumber(ARGV[2])
local now = tonumber(ARGV[3])
local states = {}
local counted = {}
local fits = true
for i = 1, #KEYS do
  local base = 3 + (i - 1) * 5
  local oldest = tonumber(ARGV[base + 1])
  local limit = tonumber(ARGV[base + 3])
  local window = tonumber(ARGV[base + 5])
  local flat = redis.call("HGETALL", KEYS[i])
  for j = 1, #flat, 2 do
    if flat[j] == "w" then counted[i] = tonumber(flat[j + 1]) end
  end
  local buckets = {}
  local held = 0
  if window > 0 and counted[i] ~= nil and counted[i] ~= window then
    local size = math.max(1, math.ceil(counted[i] / ${WINDOW_BUCKETS}))
    local before = math.floor((now - counted[i]) / size)
    for j = 1, #flat, 2 do
      if flat[j] ~= "w" and tonumber(flat[j]) >= before then held = held + tonumber(flat[j + 1]) end
    end
    -- Stored in the new length at once, whatever the operation: a refusal's reset is then true.
    redis.call("DEL", KEYS[i])
    if held > 0 then
      buckets[1] = {tonumber(ARGV[base + 2]), held}
      redis.call("HSET", KEYS[i], ARGV[base + 2], held)
    end
    redis.call("HSET", KEYS[i], "w", window)
    redis.call("PEXPIRE", KEYS[i], ARGV[base + 4])
    counted[i] = window
  else
    for j = 1, #flat, 2 do
      if flat[j] ~= "w" then
        local index = tonumber(flat[j])
        local count = tonumber(flat[j + 1])
        if index < oldest then
          redis.call("HDEL", KEYS[i], flat[j])
        else
          buckets[#buckets + 1] = {index, count}
          held = held + count
        end
      end
    end
  end
  states[i] = buckets
  if held + cost > limit then fits = false end
end
if op == "record" or (op == "check" and fits) then
  for i = 1, #KEYS do
    local base = 3 + (i - 1) * 5
    local window = tonumber(ARGV[base + 5])
    if window > 0 and counted[i] ~= window then redis.call("HSET", KEYS[i], "w", window) end
    if cost >= 0 then
      redis.call("HINCRBY", KEYS[i], ARGV[base + 2], cost)
    else
      local owed = -cost
      local newest = {}
      for _, b in ipairs(states[i]) do newest[#newest + 1] = b end
      table.sort(newest, function(a, b) return a[1] > b[1] end)
      for _, b in ipairs(newest) do
        if owed <= 0 then break end
        local take = math.min(owed, b[2])
        owed = owed - take
        if take == b[2] then redis.call("HDEL", KEYS[i], b[1]) else redis.call("HINCRBY", KEYS[i], b[1], -take) end
      end
    end
    redis.call("PEXPIRE", KEYS[i], ARGV[base + 4])
  end
end
return states
`;

/**
 * The Upstash backend: the counters of `counters.ts` in Redis, over the `@upstash/redis` REST
 * client. Hand-written rather than `@upstash/ratelimit`: the library decides one limit per call
 * (a key with a burst window, a sustained window, a quota and an org aggregate would cost four
 * round trips and could spend on some and refuse on others), and SPEC §7 asks for one atomic
 * round trip per request. Keys are `keygate:rl2:{<scope>}:<counter id>`: the hash tag keeps a
 * scope's counters in one slot, as a multi-key script needs on a cluster.
 *
 * Any network or Redis error, and an answer later than `timeoutMs`, is `RateLimiterUnavailableError`,
 * so the configured failure mode decides; a timeout is never an admission (the library answered
 * `success: true, reason: "timeout"`, which this module never did take as one either).
 *
 * Revocation through the limiter is a Durable Object feature: `endKey` and `keyChanged` are no-ops here, and keys
 * on this backend keep the cache bound (memory TTL plus KV propagation) stated in the README.
 */
export function upstashLimiter({ url, token, timeoutMs = DEFAULT_LIMITER_TIMEOUT_MS }: UpstashLimiterOptions): RateLimiter {
  const redis = new Redis({
    url,
    token,
    enableTelemetry: false,
    // One quick retry for a dropped connection; anything slower is the timeout's business.
    retry: { retries: 1, backoff: () => 25 },
    // Aborts the HTTP request shortly after the deadline gave up on it.
    signal: () => AbortSignal.timeout(timeoutMs + 100),
  });
  const script = redis.createScript<Array<Array<[number, number]>>>(DECIDE_SCRIPT);

  async function call(plan: LimitPlan, cost: number, operation: Operation): Promise<LimitAnswer> {
    const now = Date.now();
    const keys = plan.counters.map((c) => `${KEY_PREFIX}:{${plan.scope}}:${c.id}`);
    const args = [operation, String(cost), String(now)];
    for (const { policy } of plan.counters) {
      const bucket = currentBucket(policy, now);
      args.push(
        String(oldestLiveBucket(policy, now)),
        String(bucket),
        String(policy.limit),
        String(Math.max(1_000, bucketExpiresAt(policy, bucket) - now + 1_000)),
        String(policy.kind === "window" ? policy.windowMs : 0),
      );
    }
    const states = await withDeadline(() => script.exec(keys, args), timeoutMs, "upstash");
    const counters = states.map((buckets): Buckets => (Array.isArray(buckets) ? buckets.map(([i, n]): [number, number] => [Number(i), Number(n)]).sort((a, b) => a[0] - b[0]) : []));
    const decision = decide(
      plan.counters.map((c) => c.policy),
      counters,
      cost,
      now,
      operation,
    );
    return { allowed: decision.allowed, policies: decision.policies };
  }

  return {
    limit: (plan, cost) => call(plan, cost, "check"),
    record: (plan, count) => call(plan, count, "record"),
    peek: (plan, cost) => call(plan, cost, "peek"),
    endKey: async () => undefined,
    keyChanged: async () => undefined,
  };
}
