// The usage series' documented bound holds at the edge of the longest range: 48h of minutes, both ends
// included, is 2881 buckets when `since` and `until` fall on minute starts and every minute had calls.
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { adminFetch, createKey, createOrg, gatewayFetch, MANAGEMENT } from "../harness";
import { expectError, expectJson } from "./support";

const MINUTE = 60_000;

describe("the longest minute range", () => {
  it("answers every bucket of an exact 48h range within the series' documented maxItems, and refuses one minute more", async () => {
    const { id } = await createOrg();
    const { id: keyId } = await createKey(id);
    // A busy key: calls in every minute of the range (written as the consumer would have, for a range in the past).
    const since = Date.UTC(2026, 0, 10);
    const until = since + 48 * 60 * MINUTE;
    await env.DB.prepare(
      `WITH RECURSIVE m(t) AS (SELECT ?1 UNION ALL SELECT t + ${MINUTE} FROM m WHERE t < ?2)
       INSERT INTO usage_minutes (key_id, org_id, minute, status_class, count, max_ms) SELECT ?3, ?4, t, 2, 1, 5 FROM m`,
    )
      .bind(since, until, keyId, id)
      .run();
    const range = `granularity=minute&since=${new Date(since).toISOString()}&until=${new Date(until).toISOString()}`;
    const { data } = await expectJson<{ data: { series: unknown[]; totals: { count: number } } }>(await adminFetch(`/orgs/${id}/keys/${keyId}/usage?${range}`), 200);
    const doc = (await (await gatewayFetch(`${MANAGEMENT}/openapi.json`)).json()) as { components: { schemas: Record<string, { properties: Record<string, { maxItems?: number }> }> } };
    expect(data.series).toHaveLength(2881);
    expect(data.totals.count).toBe(2881);
    expect(data.series.length).toBeLessThanOrEqual(doc.components.schemas.KeyUsage!.properties.series!.maxItems!);
    const org = await expectJson<{ data: { series: unknown[] } }>(await adminFetch(`/orgs/${id}/usage?${range}`), 200);
    expect(org.data.series.length).toBeLessThanOrEqual(doc.components.schemas.OrgUsage!.properties.series!.maxItems!);
    await expectError(await adminFetch(`/orgs/${id}/keys/${keyId}/usage?granularity=minute&since=${new Date(since - 1).toISOString()}&until=${new Date(until).toISOString()}`), 400, "validation_error");
  });
});
