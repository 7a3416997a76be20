// Issue 17.6: stopping `npm start` right after traffic used to lose the last seconds of usage (still
// in the worker's aggregate buffer or the local queue). Now Ctrl-C drains it first.
import { describe, expect, it } from "vitest";
import { startGateway } from "./npm-start.ts";

describe("npm start keeps usage across a stop", () => {
  it("50 calls made right before Ctrl-C are all counted after the next start", async () => {
    const first = await startGateway();
    const api = (gateway: { url: string; token: string }, path: string, init: RequestInit = {}) =>
      fetch(`${gateway.url}/_keygate/v1${path}`, { ...init, headers: { authorization: `Bearer ${gateway.token}`, "content-type": "application/json" } });
    let keyId: string;
    let orgId: string;
    try {
      const org = (await (await api(first, "/orgs", { method: "POST", body: JSON.stringify({ name: "shutdown", tier: "enterprise" }) })).json()) as { data: { id: string } };
      orgId = org.data.id;
      const key = (await (await api(first, `/orgs/${orgId}/keys`, { method: "POST", body: JSON.stringify({ name: "k", scopes: ["demo:read"] }) })).json()) as { data: { id: string; key: string } };
      keyId = key.data.id;
      const statuses = await Promise.all(Array.from({ length: 50 }, (_, i) => fetch(`${first.url}/demo/shutdown/${i}`, { headers: { authorization: `Bearer ${key.data.key}` } }).then((r) => r.status)));
      expect(statuses.every((s) => s === 200)).toBe(true);
    } finally {
      await first.stop(); // at once: nothing has been flushed yet
    }
    expect(first.output()).toMatch(/keygate: usage saved \(\d+ queue messages?/);

    const second = await startGateway();
    try {
      const res = await api(second, `/orgs/${orgId}/keys/${keyId}/usage`);
      const body = (await res.json()) as { data: { totals: { count: number } } };
      expect(body.data.totals.count).toBe(50);
    } finally {
      await second.stop();
    }
  }, 360_000);
});
