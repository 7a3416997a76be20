// SPEC §10 at GitHub's maximum: 1,000 tokens in one report, mixed live / unknown / malformed.
// The duration is printed (GitHub's budget is 10 s; README "Secret scanning" quotes the figure), not
// asserted: the machine running the tests sets the pace.
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { generateKey } from "../../src/keys/format";
import { seedKey, seedOrg } from "../gateway/seed";
import { expectJson } from "../management/support";
import { keysEndpoint, leakItems, newGithubSigner, workerWith } from "./support";

describe("a full-size report", () => {
  it("handles 1,000 tokens (200 live keys, 400 unknown, 400 malformed) in one request", async () => {
    const keys = keysEndpoint();
    const signer = await newGithubSigner();
    await keys.publish(signer);
    const worker = workerWith({ GITHUB_SECRET_SCANNING_KEYS_URL: keys.url });
    const orgs = await Promise.all(Array.from({ length: 4 }, () => seedOrg()));
    const live = [];
    for (let i = 0; i < 200; i++) live.push(await seedKey({ orgId: orgs[i % orgs.length] }));
    const tokens = [
      ...live.map((k) => k.key),
      ...Array.from({ length: 400 }, () => generateKey("kg_")),
      ...Array.from({ length: 400 }, (_, i) => (i % 2 ? `kg_${"x".repeat(40)}${i}` : `ghp_${i}`)),
    ].sort(() => Math.random() - 0.5);
    const body = JSON.stringify(leakItems(tokens.map((token) => ({ token }))));

    const started = Date.now();
    const res = await worker.report(body, signer);
    const elapsed = Date.now() - started;
    const labels = await expectJson<{ label: string }[]>(res, 200);
    console.log(`secret scanning: ${tokens.length} tokens (${live.length} live) answered in ${elapsed} ms`);

    expect(labels).toHaveLength(1000);
    expect(labels.filter((l) => l.label === "true_positive")).toHaveLength(200);
    const revoked = await env.DB.prepare(`SELECT count(*) AS n FROM api_keys WHERE revoked_at IS NOT NULL AND org_id IN (?, ?, ?, ?)`)
      .bind(...orgs)
      .first<{ n: number }>();
    expect(revoked?.n).toBe(200);
    const leaked = await env.DB.prepare(`SELECT count(*) AS n FROM audit_events WHERE action = 'key.leaked' AND org_id IN (?, ?, ?, ?)`)
      .bind(...orgs)
      .first<{ n: number }>();
    expect(leaked?.n).toBe(200);
  });
});
