// The test bridge must look like Upstash to the unmodified client, or the Upstash backend's tests
// would prove nothing: these drive it with @upstash/redis exactly as the backend does.
import { Redis } from "@upstash/redis/cloudflare";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { uniqueId } from "./harness";

const redis = () => new Redis({ url: env.UPSTASH_REDIS_REST_URL!, token: env.UPSTASH_REDIS_REST_TOKEN!, enableTelemetry: false });

describe("Upstash REST bridge", () => {
  it("runs single commands and round-trips non-ASCII text through the client's base64 encoding", async () => {
    const client = redis();
    const key = uniqueId();
    expect(await client.set(key, "grüße, 世界")).toBe("OK");
    expect(await client.get(key)).toBe("grüße, 世界");
    expect(await client.incr(`${key}:n`)).toBe(1);
    expect(await client.get(`${key}:missing`)).toBeNull();
    expect(await client.ping()).toBe("PONG");
  });

  it("answers a pipeline with one result per command, in order, errors included", async () => {
    const key = uniqueId();
    const results = await redis().pipeline().set(key, "x").incr(key).get(key).exec({ keepErrors: true });
    expect(results[0]).toEqual({ result: "OK", error: undefined });
    expect(results[1]!.error).toMatch(/not an integer/);
    expect(results[2]).toEqual({ result: "x", error: undefined });
  });

  it("runs multi-exec as one transaction", async () => {
    const key = uniqueId();
    expect(await redis().multi().incrby(key, 5).incrby(key, 2).get(key).exec()).toEqual([5, 7, 7]);
  });

  it("runs scripts by EVAL, SCRIPT LOAD and EVALSHA, including Upstash's shebang flags", async () => {
    const client = redis();
    const key = uniqueId();
    const script = `#!lua flags=allow-key-locking\nreturn redis.call("INCRBY", KEYS[1], ARGV[1])`;
    expect(await client.eval(script, [key], ["3"])).toBe(3);
    const sha = await client.scriptLoad(script);
    // The SHA-1 of the client's own text, as Upstash answers.
    const digest = new Uint8Array(await crypto.subtle.digest("SHA-1", new TextEncoder().encode(script)));
    expect(sha).toBe([...digest].map((b) => b.toString(16).padStart(2, "0")).join(""));
    expect(await client.evalsha(sha, [key], ["4"])).toBe(7);
    await expect(client.evalsha("0".repeat(40), [key], [])).rejects.toThrow(/NOSCRIPT/);
  });

  it("turns a Redis error into the client's UpstashError", async () => {
    await expect(redis().eval("return redis.call('NOPE')", [], [])).rejects.toThrow(/Unknown Redis command/);
  });

  it("refuses a wrong or missing bearer token with 401", async () => {
    const wrong = new Redis({ url: env.UPSTASH_REDIS_REST_URL!, token: "not-the-token", enableTelemetry: false, retry: false });
    await expect(wrong.get("anything")).rejects.toThrow(/Unauthorized/);
    const res = await fetch(env.UPSTASH_REDIS_REST_URL!, { method: "POST", body: JSON.stringify(["PING"]) });
    expect(res.status).toBe(401);
  });
});
