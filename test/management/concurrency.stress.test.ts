// Issue 17.1: every pair of mutating operations on one key, run concurrently many times. Each trial's
// outcome (statuses, the old key, its successor, the audit trail) must equal the outcome of running
// the two operations one after the other in some order: no lost update, no double audit row.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { adminFetch, createKey, createOrg, type KeyJson } from "../harness";

/** Trials per pair. 15 pairs x 8 trials = 120 concurrent trials (each a fresh key). */
const TRIALS = 8;

interface Settings {
  name: string;
  scopes: string[];
  meta: Record<string, unknown> | null;
}

interface Model {
  settings: Settings;
  revoked: boolean;
  /** Rotated with a grace period: the old key stays active but has a successor. */
  rotated: boolean;
  successor: Settings | null;
  audit: Record<string, number>;
}

type OpName = "patchScopes" | "patchMeta" | "revoke" | "rotate" | "rotateGrace";

interface Op {
  name: OpName;
  run(orgId: string, keyId: string): Promise<Response>;
  /** Applies the op to the model; returns the status the API must answer in that state. */
  apply(model: Model): number;
}

const bump = (model: Model, action: string) => (model.audit[action] = (model.audit[action] ?? 0) + 1);

function patchOp(name: OpName, changes: Partial<Settings>): Op {
  return {
    name,
    run: (orgId, keyId) => adminFetch(`/orgs/${orgId}/keys/${keyId}`, { method: "PATCH", json: changes }),
    apply(model) {
      if (model.revoked) return 409;
      const next = { ...model.settings, ...changes };
      if (JSON.stringify(next) !== JSON.stringify(model.settings)) bump(model, "key.updated");
      model.settings = next;
      return 200;
    },
  };
}

function rotateOp(name: OpName, grace: string): Op {
  return {
    name,
    run: (orgId, keyId) => adminFetch(`/orgs/${orgId}/keys/${keyId}/rotate`, { method: "POST", json: { grace_period: grace } }),
    apply(model) {
      if (model.revoked || model.successor) return 409;
      model.successor = structuredClone(model.settings);
      if (grace === "0s") model.revoked = true;
      else model.rotated = true;
      bump(model, "key.rotated");
      return 201;
    },
  };
}

const OPS: Op[] = [
  patchOp("patchScopes", { scopes: ["demo:read"] }),
  patchOp("patchMeta", { meta: { changed: true } }),
  {
    name: "revoke",
    run: (orgId, keyId) => adminFetch(`/orgs/${orgId}/keys/${keyId}/revoke`, { method: "POST" }),
    apply(model) {
      if (!model.revoked) bump(model, "key.revoked");
      model.revoked = true;
      return 200;
    },
  },
  rotateOp("rotate", "0s"),
  rotateOp("rotateGrace", "1h"),
];

const INITIAL: Settings = { name: "racer", scopes: ["demo:read", "demo:write"], meta: { changed: false } };

function expected(order: Op[]): { statuses: number[]; model: Model } {
  const model: Model = { settings: structuredClone(INITIAL), revoked: false, rotated: false, successor: null, audit: {} };
  const statuses = order.map((op) => op.apply(model));
  return { statuses, model };
}

/** JSON with object keys sorted, so equal values compare equal whatever order their keys were added in. */
const canonical = (value: unknown): string =>
  JSON.stringify(value, (_key, v: unknown) => (v && typeof v === "object" && !Array.isArray(v) ? Object.fromEntries(Object.entries(v).sort(([x], [y]) => x.localeCompare(y))) : v));

const settingsOf = (key: KeyJson): Settings => ({ name: key.name, scopes: key.scopes, meta: key.meta });

async function observe(orgId: string, keyId: string, responses: Response[]) {
  const bodies = await Promise.all(responses.map(async (r) => ({ status: r.status, body: (await r.json()) as { data?: KeyJson; error?: { code: string } } })));
  const old = ((await (await adminFetch(`/orgs/${orgId}/keys/${keyId}`)).json()) as { data: KeyJson }).data;
  const rotatedTo = bodies.find((b) => b.status === 201)?.body.data?.id;
  const successor = rotatedTo ? ((await (await adminFetch(`/orgs/${orgId}/keys/${rotatedTo}`)).json()) as { data: KeyJson }).data : null;
  const audit = ((await (await adminFetch(`/orgs/${orgId}/audit?key_id=${keyId}&per_page=100`)).json()) as { data: { action: string }[] }).data;
  const counts: Record<string, number> = {};
  for (const event of audit) if (event.action !== "key.created") counts[event.action] = (counts[event.action] ?? 0) + 1;
  return {
    statuses: bodies.map((b) => b.status),
    errors: bodies.filter((b) => b.status >= 400).map((b) => b.body.error?.code),
    model: {
      settings: settingsOf(old),
      revoked: old.status === "revoked",
      rotated: successor !== null && old.status === "active",
      successor: successor && settingsOf(successor),
      audit: counts,
    } satisfies Model,
  };
}

const pairs: [Op, Op][] = [];
OPS.forEach((a, i) => OPS.slice(i).forEach((b) => pairs.push([a, b])));

describe(`concurrent mutations of one key: ${pairs.length} pairs x ${TRIALS} trials, each serialisable`, () => {
  it.each(pairs.map(([a, b]) => [`${a.name} || ${b.name}`, a, b] as const))("%s", async (_label, a, b) => {
    const { id: orgId } = await createOrg({ max_active_keys: 100 });
    for (let trial = 0; trial < TRIALS; trial++) {
      const { id: keyId } = await createKey(orgId, { ...INITIAL, meta: INITIAL.meta! });
      const responses = await Promise.all([a.run(orgId, keyId), b.run(orgId, keyId)]);
      const seen = await observe(orgId, keyId, responses);
      for (const code of seen.errors) expect(code).toBe("conflict");
      // Statuses listed as [a's, b's] whichever ran first.
      const aFirst = expected([a, b]);
      const bFirst = expected([b, a]);
      const orders = [aFirst, { ...bFirst, statuses: [...bFirst.statuses].reverse() }];
      const matches = orders.some((e) => canonical(e.statuses) === canonical(seen.statuses) && canonical(e.model) === canonical(seen.model));
      expect(matches, `trial ${trial}: observed ${JSON.stringify(seen)} is neither serial order: ${JSON.stringify(orders)}`).toBe(true);
    }
  });
});

function permutations<T>(items: T[]): T[][] {
  if (items.length <= 1) return [items];
  return items.flatMap((item, i) => permutations([...items.slice(0, i), ...items.slice(i + 1)]).map((rest) => [item, ...rest]));
}

describe("generated sets of three concurrent mutations (fast-check)", () => {
  it("always end as some serial order of the three would (25 generated triples)", async () => {
    const { id: orgId } = await createOrg({ max_active_keys: 200 });
    await fc.assert(
      fc.asyncProperty(fc.tuple(...[0, 1, 2].map(() => fc.constantFrom(...OPS))), async (ops) => {
        const { id: keyId } = await createKey(orgId, { ...INITIAL, meta: INITIAL.meta! });
        const seen = await observe(orgId, keyId, await Promise.all(ops.map((op) => op.run(orgId, keyId))));
        for (const code of seen.errors) expect(code).toBe("conflict");
        const outcomes = permutations([0, 1, 2]).map((order) => {
          const { statuses, model } = expected(order.map((i) => ops[i]!));
          // Statuses back in request order.
          const byRequest: number[] = [];
          order.forEach((requestIndex, step) => (byRequest[requestIndex] = statuses[step]!));
          return { statuses: byRequest, model };
        });
        const ok = outcomes.some((e) => canonical(e.statuses) === canonical(seen.statuses) && canonical(e.model) === canonical(seen.model));
        expect(ok, `${ops.map((o) => o.name).join(" || ")}: observed ${JSON.stringify(seen)}`).toBe(true);
      }),
      { numRuns: 25 },
    );
  });
});

describe("three concurrent revokes", () => {
  it("write exactly one key.revoked audit row, every time (20 trials)", async () => {
    const { id: orgId } = await createOrg({ max_active_keys: 100 });
    for (let trial = 0; trial < 20; trial++) {
      const { id: keyId } = await createKey(orgId);
      const responses = await Promise.all([0, 1, 2].map(() => adminFetch(`/orgs/${orgId}/keys/${keyId}/revoke`, { method: "POST" })));
      const bodies = await Promise.all(responses.map(async (r) => ({ status: r.status, data: ((await r.json()) as { data: KeyJson }).data })));
      expect(bodies.map((b) => b.status)).toEqual([200, 200, 200]);
      // All three report the one revocation time.
      expect(new Set(bodies.map((b) => b.data.revoked_at)).size).toBe(1);
      const audit = (await (await adminFetch(`/orgs/${orgId}/audit?key_id=${keyId}&action=key.revoked`)).json()) as { data: unknown[] };
      expect(audit.data, `trial ${trial}`).toHaveLength(1);
    }
  });
});

describe("many concurrent PATCHes of one key", () => {
  it("apply one after the other: the audit rows form one chain from the first name to the stored one", async () => {
    const { id: orgId } = await createOrg();
    const { id: keyId } = await createKey(orgId, { name: "name start" });
    const names = Array.from({ length: 12 }, (_, i) => `name ${i}`);
    const responses = await Promise.all(names.map((name) => adminFetch(`/orgs/${orgId}/keys/${keyId}`, { method: "PATCH", json: { name } })));
    // A PATCH that lost more races than it may retry answers 409; none is silently overwritten.
    for (const r of responses) expect([200, 409]).toContain(r.status);
    const ok = responses.filter((r) => r.status === 200).length;
    const audit = (await (await adminFetch(`/orgs/${orgId}/audit?key_id=${keyId}&action=key.updated&per_page=100`)).json()) as {
      data: { details: { changes: { name: { from: string; to: string } } } }[];
    };
    expect(audit.data).toHaveLength(ok);
    const next = new Map(audit.data.map((e) => [e.details.changes.name.from, e.details.changes.name.to]));
    expect(next.size).toBe(ok);
    let name = "name start";
    for (let i = 0; i < ok; i++) name = next.get(name)!;
    const stored = ((await (await adminFetch(`/orgs/${orgId}/keys/${keyId}`)).json()) as { data: KeyJson }).data;
    expect(name).toBe(stored.name);
  });
});
