import { describe, expect, it } from "vitest";
import { adminFetch, createKey, createOrg, keyFetch, MANAGEMENT } from "../harness";
import { eventually } from "../gateway/seed";

interface UsageBody {
  data: {
    key_id: string;
    counts: Record<"2xx" | "3xx" | "4xx" | "5xx", number>;
    total: number;
    recent: { method: string; path: string; status: number; latency_ms: number; at: string }[];
  };
  pagination: { page: number; per_page: number; total: number };
}

const usagePath = (orgId: string, keyId: string, query = "") => `/orgs/${orgId}/keys/${keyId}/usage${query}`;

/** Polls the usage endpoint until the queue consumer has written `total` calls. */
async function usageOnceWritten(orgId: string, keyId: string, total: number, query = ""): Promise<UsageBody> {
  return eventually(async () => {
    const res = await adminFetch(usagePath(orgId, keyId, query));
    expect(res.status).toBe(200);
    const body = (await res.json()) as UsageBody;
    return body.data.total >= total ? body : undefined;
  });
}

describe("GET /orgs/{org_id}/keys/{key_id}/usage", () => {
  it("counts calls by status class and lists them newest first", async () => {
    const org = await createOrg();
    const { id, key } = await createKey(org.id, { scopes: ["demo:read"] });
    await keyFetch(key, "/demo/a?token=not-recorded");
    await keyFetch(key, "/demo/status/302", { redirect: "manual" });
    await keyFetch(key, "/demo/status/404");
    await keyFetch(key, "/demo/b", { method: "POST" }); // 403: the key lacks demo:write
    await keyFetch(key, "/demo/status/503");

    const body = await usageOnceWritten(org.id, id, 5);
    expect(body.data.key_id).toBe(id);
    expect(body.data.counts).toEqual({ "2xx": 1, "3xx": 1, "4xx": 2, "5xx": 1 });
    expect(body.data.total).toBe(5);
    expect(body.pagination).toEqual({ page: 1, per_page: 20, total: 5 });
    const recent = body.data.recent;
    expect(recent.map((r) => r.path).sort()).toEqual(["/demo/a", "/demo/b", "/demo/status/302", "/demo/status/404", "/demo/status/503"]);
    expect(recent.find((r) => r.path === "/demo/b")).toMatchObject({ method: "POST", status: 403 });
    for (const call of recent) {
      expect(new Date(call.at).toISOString()).toBe(call.at);
      expect(call.latency_ms).toBeGreaterThanOrEqual(0);
    }
    const times = recent.map((r) => Date.parse(r.at));
    expect([...times].sort((a, b) => b - a)).toEqual(times);
  });

  it("pages through recent calls; counts cover the whole range", async () => {
    const org = await createOrg();
    const { id, key } = await createKey(org.id);
    for (let i = 0; i < 5; i++) await keyFetch(key, `/demo/page/${i}`);
    await usageOnceWritten(org.id, id, 5);

    const res = await adminFetch(usagePath(org.id, id, "?per_page=2&page=3"));
    const body = (await res.json()) as UsageBody;
    expect(body.pagination).toEqual({ page: 3, per_page: 2, total: 5 });
    expect(body.data.recent).toHaveLength(1);
    expect(body.data.counts["2xx"]).toBe(5);
  });

  it("since and until narrow the range", async () => {
    const org = await createOrg();
    const { id, key } = await createKey(org.id);
    await keyFetch(key, "/demo/range");
    await usageOnceWritten(org.id, id, 1);

    const future = new Date(Date.now() + 3_600_000).toISOString();
    const past = new Date(Date.now() - 3_600_000).toISOString();
    const after = (await (await adminFetch(usagePath(org.id, id, `?since=${future}`))).json()) as UsageBody;
    expect(after.data.total).toBe(0);
    expect(after.data.recent).toEqual([]);
    const before = (await (await adminFetch(usagePath(org.id, id, `?until=${past}`))).json()) as UsageBody;
    expect(before.data.total).toBe(0);
    const within = (await (await adminFetch(usagePath(org.id, id, `?since=${past}&until=${future}`))).json()) as UsageBody;
    expect(within.data.total).toBe(1);
  });

  it("a key of the same org with keys:read may read it", async () => {
    const org = await createOrg();
    const { id, key } = await createKey(org.id);
    const reader = await createKey(org.id, { scopes: ["keys:read"] });
    await keyFetch(key, "/demo/x");
    await usageOnceWritten(org.id, id, 1);
    const res = await keyFetch(reader.key, `${MANAGEMENT}${usagePath(org.id, id)}`);
    expect(res.status).toBe(200);
    expect(((await res.json()) as UsageBody).data.total).toBe(1);
  });

  it("a key with no traffic has zero counts", async () => {
    const org = await createOrg();
    const { id } = await createKey(org.id);
    const body = (await (await adminFetch(usagePath(org.id, id))).json()) as UsageBody;
    expect(body.data).toEqual({ key_id: id, counts: { "2xx": 0, "3xx": 0, "4xx": 0, "5xx": 0 }, total: 0, recent: [] });
  });
});

describe("usage feeds the key list and the audit trail", () => {
  it("unused_since reflects real traffic: a key used through the gateway drops out of the filter", async () => {
    const org = await createOrg();
    const used = await createKey(org.id, { name: "used" });
    const idle = await createKey(org.id, { name: "idle" });
    const before = new Date(Date.now() - 1000).toISOString();
    await keyFetch(used.key, "/demo/x");

    const lastUsed = await eventually(async () => {
      const res = await adminFetch(`/orgs/${org.id}/keys/${used.id}`);
      const { data } = (await res.json()) as { data: { last_used_at: string | null } };
      return data.last_used_at ?? undefined;
    });
    expect(Date.parse(lastUsed)).toBeGreaterThan(Date.parse(before));

    const res = await adminFetch(`/orgs/${org.id}/keys?unused_since=${encodeURIComponent(before)}`);
    const { data } = (await res.json()) as { data: { id: string }[] };
    expect(data.map((k) => k.id)).toEqual([idle.id]);
    const later = new Date(Date.parse(lastUsed) + 1).toISOString();
    const all = (await (await adminFetch(`/orgs/${org.id}/keys?unused_since=${encodeURIComponent(later)}`)).json()) as { data: { id: string }[] };
    expect(all.data.map((k) => k.id).sort()).toEqual([idle.id, used.id].sort());
  });

  it("calls with a revoked key appear as one aggregated auth.failed event in the org's audit trail", async () => {
    const org = await createOrg();
    const { id, key } = await createKey(org.id);
    await adminFetch(`/orgs/${org.id}/keys/${id}/revoke`, { method: "POST" });
    for (let i = 0; i < 4; i++) {
      expect((await keyFetch(key, "/demo/x", { headers: { authorization: `Bearer ${key}`, "cf-connecting-ip": "203.0.113.50" } })).status).toBe(401);
    }
    interface AuditBody {
      data: { action: string; key_id: string | null; count: number; source: string | null; reason: string | null; actor: string }[];
    }
    const event = await eventually(async () => {
      const res = await adminFetch(`/orgs/${org.id}/audit?action=auth.failed`);
      expect(res.status).toBe(200);
      const { data } = (await res.json()) as AuditBody;
      return data[0] && data[0].count >= 4 ? data : undefined;
    });
    expect(event).toHaveLength(1);
    expect(event[0]).toMatchObject({ action: "auth.failed", key_id: id, count: 4, source: "203.0.113.50", reason: "key_revoked" });
  });
});
