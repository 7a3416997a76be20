import { DurableObject } from "cloudflare:workers";
import { bucketExpiresAt, type Buckets, carryOver, currentBucket, decide, live, type Operation, type Policy, WINDOW_BUCKETS } from "./counters";
import { hasEnded, type KeyEnd, type LimitAnswer } from "./interface";
import { encodeAnswer } from "./wire";
import type { Counter } from "./policy";

interface CounterRow extends Record<string, string | number | null> {
  id: string;
  buckets: string;
  /** The window length the buckets were counted for; null for a quota (and rows written before it was kept). */
  window_ms: number | null;
}

/** A plan's counters and, in the same order, their policies (what `decide` takes). */
interface ParsedPlan {
  counters: Counter[];
  policies: Policy[];
}

interface EndRow extends Record<string, string | number> {
  key_id: string;
  reason: string;
  at: number;
}

/**
 * The bindings the object reads: none, since its counters live in its own storage. Its own type
 * rather than the worker's `Env`, so env.ts (which names this class) is the only one of the two
 * that imports the other.
 */
export interface RateLimiterBindings {}

/** How long the object remembers that a key ended: far beyond any cache's life (memory TTL + KV propagation). */
export const KEY_END_RETENTION_MS = 86_400_000;

/**
 * One object per limiter scope (`idFromName("key:<chain root>")`, or `org:<id>` when the tier has an
 * org aggregate): every counter of every policy of that scope, so one call decides a request against
 * all of them. A Durable Object delivers one event at a time and every method here runs without
 * awaiting, so each decision is atomic without locks; concurrent requests queue at the object.
 *
 * Counters live in memory for speed, over SQLite storage. Storage holds a reservation ahead of
 * memory: when an admission takes a counter past what is stored, the object writes the counter with
 * `strictReserve(limit) - 1` more units (in its newest bucket, or for large limits shared with the
 * buckets the next window opens: `reservation`) before answering (the output gate holds the answer
 * until the write is durable), so the next admissions up to that ceiling need no write.
 * After an eviction the object resumes from storage as if the reservation had been spent: it may
 * refuse up to 1% of the limit that would have fitted, but never forgets spend, so never admits past
 * the limit. A denial writes nothing (unless it is a counter's first use since its window changed
 * length: `held`); neither does a refund (storage still covers lower counts).
 *
 * It also remembers keys that ended (revoke, rotate) and keys that changed (PATCH): the management
 * API calls `endKey` / `keyChanged`, and every later decision for that key answers `ended` or
 * `changedAt` (for a record older than the change), so a request anywhere learns it in the call it
 * already makes, however stale the cached key record it holds.
 */
export class RateLimiterObject extends DurableObject<RateLimiterBindings> {
  private readonly counters = new Map<string, Buckets>();
  /** What storage holds per counter: never below `counters` bucket for bucket. */
  private readonly stored = new Map<string, Buckets>();
  /** The window length each window counter's buckets were counted for (a key's window may change length under the same id). */
  private readonly windows = new Map<string, number>();
  private readonly ends = new Map<string, KeyEnd>();
  /** Keys changed (PATCH) at: a request holding an older record is told to reread it. */
  private readonly changes = new Map<string, number>();
  /** When the cleanup alarm is due, as far as this instance knows (0: not set by this instance). */
  private alarmAt = 0;
  /** Plans seen in `decideWire` calls, parsed and checked once (with their policies): a key's requests all send the same one. */
  private readonly plans = new Map<string, ParsedPlan>();

  constructor(ctx: DurableObjectState, env: RateLimiterBindings) {
    super(ctx, env);
    const sql = ctx.storage.sql;
    sql.exec("CREATE TABLE IF NOT EXISTS counters (id TEXT PRIMARY KEY, buckets TEXT NOT NULL, dead_at INTEGER NOT NULL, window_ms INTEGER)");
    // Objects created before window_ms was kept: their window counters are under ids with the length
    // in them (no longer used, dropped by the alarm once dead); their quotas keep counting.
    if (!sql.exec<{ name: string }>("SELECT name FROM pragma_table_info('counters')").toArray().some((c) => c.name === "window_ms")) {
      sql.exec("ALTER TABLE counters ADD COLUMN window_ms INTEGER");
    }
    sql.exec("CREATE TABLE IF NOT EXISTS key_ends (key_id TEXT PRIMARY KEY, reason TEXT NOT NULL, at INTEGER NOT NULL)");
    sql.exec("CREATE TABLE IF NOT EXISTS key_changes (key_id TEXT PRIMARY KEY, at INTEGER NOT NULL)");
    // The v1 single-window table: its counts are not carried over (one window of budget at most).
    sql.exec("DROP TABLE IF EXISTS window_counts");
    for (const row of sql.exec<CounterRow>("SELECT id, buckets, window_ms FROM counters")) {
      const buckets = JSON.parse(row.buckets) as Buckets;
      this.counters.set(row.id, buckets);
      this.stored.set(row.id, buckets);
      if (row.window_ms !== null) this.windows.set(row.id, row.window_ms);
    }
    for (const row of sql.exec<EndRow>("SELECT key_id, reason, at FROM key_ends")) {
      this.ends.set(row.key_id, { reason: row.reason as KeyEnd["reason"], at: row.at });
    }
    for (const row of sql.exec<{ key_id: string; at: number }>("SELECT key_id, at FROM key_changes")) this.changes.set(row.key_id, row.at);
  }

  /**
   * `check` spends `cost` on every counter if all have room; `record` spends it regardless (negative:
   * refunds); `peek` reads. A key that ended, or a record older than the key's last change
   * (`version`), is answered so (`ended`, `changedAt`) and a `check` spends nothing.
   *
   * In the limiter's compact wire form (the hot path: one call per strict request; the only way in). The plan
   * comes as `wirePlan(counters)`, a string: workerd copies one string far more cheaply than a tree
   * of objects, and the object parses and checks each distinct plan once. The answer is
   * `encodeAnswer`'s array of numbers (policy names, kinds and limits are the caller's own plan).
   */
  decideWire(plan: string, cost: number, operation: Operation, keyId: string, version = 0): number[] {
    if (typeof plan !== "string" || plan.length > MAX_WIRE_PLAN) throw new RangeError("plan must be a wirePlan string");
    let parsed = this.plans.get(plan);
    if (!parsed) {
      const counters = JSON.parse(plan) as Counter[];
      assertCounters(counters);
      parsed = { counters, policies: counters.map((c) => c.policy) };
      this.plans.set(plan, parsed);
      if (this.plans.size > MAX_PLANS) this.plans.delete(this.plans.keys().next().value!);
    }
    assertCall(cost, operation);
    return encodeAnswer(this.decideChecked(parsed, cost, operation, keyId, version));
  }

  private decideChecked({ counters, policies }: ParsedPlan, cost: number, operation: Operation, keyId: string, version: number): LimitAnswer {
    const now = Date.now();
    const end = this.ends.get(keyId);
    const ended = end && hasEnded(end, now) ? end : undefined;
    const changed = this.changes.get(keyId);
    const changedAt = changed !== undefined && changed > version ? changed : undefined;
    const refused = ended !== undefined || changedAt !== undefined;
    const decision = decide(policies, counters.map((c) => this.held(c, now)), cost, now, refused && operation === "check" ? "peek" : operation);
    if (operation === "record" || (operation === "check" && decision.allowed && !refused)) {
      counters.forEach((counter, i) => this.save(counter, decision.counters[i]!, now));
    }
    if (ended) return { allowed: false, policies: decision.policies, ended };
    if (changedAt !== undefined) return { allowed: operation === "check" ? false : decision.allowed, policies: decision.policies, changedAt };
    return { allowed: decision.allowed, policies: decision.policies };
  }

  /** A key's row changed at `at` (PATCH): requests holding an older record are told to reread it. Kept as long as ends. */
  keyChanged(keyId: string, at: number): void {
    if (!Number.isSafeInteger(at)) throw new RangeError("at must be an integer");
    if ((this.changes.get(keyId) ?? -1) >= at) return;
    this.ctx.storage.sql.exec("INSERT OR REPLACE INTO key_changes (key_id, at) VALUES (?, ?)", keyId, at);
    this.changes.set(keyId, at);
    this.scheduleCleanup(Math.max(at, Date.now()) + KEY_END_RETENTION_MS);
  }

  /** A key ended: every later decision for it says so. Idempotent; the earliest end wins. */
  endKey(keyId: string, end: KeyEnd): void {
    const known = this.ends.get(keyId);
    if (known && known.at <= end.at) return;
    this.ctx.storage.sql.exec("INSERT OR REPLACE INTO key_ends (key_id, reason, at) VALUES (?, ?, ?)", keyId, end.reason, end.at);
    this.ends.set(keyId, end);
    this.scheduleCleanup(Math.max(end.at, Date.now()) + KEY_END_RETENTION_MS);
  }

  /** Drops counters that no longer hold anything and ends older than their retention: an idle scope leaves no storage behind. */
  override async alarm(): Promise<void> {
    const now = Date.now();
    this.ctx.storage.sql.exec("DELETE FROM counters WHERE dead_at <= ?", now);
    this.ctx.storage.sql.exec("DELETE FROM key_ends WHERE at <= ?", now - KEY_END_RETENTION_MS);
    this.ctx.storage.sql.exec("DELETE FROM key_changes WHERE at <= ?", now - KEY_END_RETENTION_MS);
    for (const [keyId, end] of this.ends) if (end.at <= now - KEY_END_RETENTION_MS) this.ends.delete(keyId);
    for (const [keyId, at] of this.changes) if (at <= now - KEY_END_RETENTION_MS) this.changes.delete(keyId);
    const rows = this.ctx.storage.sql.exec<CounterRow>("SELECT id, buckets FROM counters").toArray();
    const alive = new Set(rows.map((r) => r.id));
    for (const id of this.counters.keys()) {
      if (!alive.has(id)) {
        this.counters.delete(id);
        this.stored.delete(id);
        this.windows.delete(id);
      }
    }
    const next = this.ctx.storage.sql
      .exec<{ due: number | null }>("SELECT MIN(due) AS due FROM (SELECT MIN(dead_at) AS due FROM counters UNION ALL SELECT MIN(at) + ? AS due FROM key_ends UNION ALL SELECT MIN(at) + ? AS due FROM key_changes)",
        KEY_END_RETENTION_MS,
        KEY_END_RETENTION_MS,
      )
      .one().due;
    this.alarmAt = next ?? 0;
    if (next !== null) await this.ctx.storage.setAlarm(Math.max(next, now + 1));
  }

  /**
   * A counter's buckets as its policy counts them now. When its window changed length they are
   * carried over (counters.ts `carryOver`) and stored so at once, whatever the operation: a refusal's
   * reset, computed from the carried buckets, is then when the request really fits again.
   */
  private held(counter: Counter, now: number): Buckets | undefined {
    const buckets = this.counters.get(counter.id);
    const counted = this.windows.get(counter.id);
    if (!buckets || counter.policy.kind !== "window" || counted === undefined || counted === counter.policy.windowMs) return buckets;
    this.save(counter, carryOver(counter.policy, buckets, counted, now), now);
    return this.counters.get(counter.id);
  }

  /** Writes a new reservation when storage no longer covers `buckets` (storage first: if it throws, memory keeps the old counts). */
  private save(counter: Counter, buckets: Buckets, now: number): void {
    const { policy } = counter;
    const current = live(policy, buckets, now);
    const windowMs = policy.kind === "window" ? policy.windowMs : null;
    // Stored buckets of another length are other instants: whatever they hold, they cover nothing now.
    const resized = windowMs !== null && this.windows.get(counter.id) !== windowMs;
    if (resized || !covers(this.stored.get(counter.id), current)) {
      const reserved = reservation(policy, current, now);
      const newest = reserved[reserved.length - 1];
      const deadAt = newest ? bucketExpiresAt(policy, newest[0]) : now;
      this.ctx.storage.sql.exec("INSERT OR REPLACE INTO counters (id, buckets, dead_at, window_ms) VALUES (?, ?, ?, ?)", counter.id, JSON.stringify(reserved), deadAt, windowMs);
      this.stored.set(counter.id, reserved);
      if (windowMs !== null) this.windows.set(counter.id, windowMs);
      this.scheduleCleanup(deadAt);
    }
    this.counters.set(counter.id, current);
  }

  private scheduleCleanup(at: number): void {
    if (this.alarmAt !== 0 && this.alarmAt <= at) return;
    this.alarmAt = at;
    void this.ctx.storage.setAlarm(Math.max(at, Date.now() + 1));
  }
}

/**
 * Units one storage write reserves: 1% of the limit, at least 1 (a write per admission). It is
 * also the most an eviction can cost a counter: up to this many minus one admissions that fitted.
 */
export function strictReserve(limit: number): number {
  return Math.max(1, Math.floor(limit / 100));
}

/** Below this much spare a window's reservation stays in its newest bucket (sharing it would leave each bucket too little to save a write). */
const MIN_SPARE_TO_SHARE = 100;

/**
 * What a write stores for a counter's live `current` buckets: their counts plus the spare units the
 * object may admit before it writes again, `strictReserve(limit) - 1` at most in all (so at most
 * that many admissions that would have fitted are lost to an eviction). The spare goes to the
 * newest bucket; for a window whose spare is `MIN_SPARE_TO_SHARE` or more it is shared with the
 * next `WINDOW_BUCKETS` buckets as well, so a busy counter writes about once per window instead of
 * once per bucket (a 1 s burst window has a new bucket every 100 ms, and every write holds the
 * object's answers until it is durable).
 */
export function reservation(policy: Policy, current: Buckets, now: number): Buckets {
  const spare = strictReserve(policy.limit) - 1;
  const ahead = policy.kind === "window" && spare >= MIN_SPARE_TO_SHARE ? WINDOW_BUCKETS : 0;
  const share = Math.floor(spare / (ahead + 1));
  const reserved: Buckets = current.map(([index, count]) => [index, count]);
  const newest = reserved[reserved.length - 1];
  if (newest) newest[1] += share;
  const next = (newest ? newest[0] : currentBucket(policy, now)) + 1;
  for (let i = 0; i < ahead; i++) reserved.push([next + i, share]);
  return reserved;
}

/** Whether resuming from `stored` would count at least `buckets`, bucket for bucket (both oldest first). */
function covers(stored: Buckets | undefined, buckets: Buckets): boolean {
  if (!stored) return buckets.length === 0;
  let j = 0;
  for (const [index, count] of buckets) {
    while (j < stored.length && stored[j]![0] < index) j++;
    const kept = stored[j];
    if (kept === undefined || kept[0] !== index || kept[1] < count) return false;
  }
  return true;
}

const OPERATIONS: readonly Operation[] = ["check", "record", "peek"];

/** The object is reachable by any code holding the binding: nonsense is refused, never stored. */
function assertCall(cost: number, operation: Operation): void {
  if (!OPERATIONS.includes(operation)) throw new RangeError("unknown operation");
  if (!Number.isSafeInteger(cost) || (operation !== "record" && cost < 1)) throw new RangeError("cost must be a positive integer");
}

function assertCounters(counters: Counter[]): void {
  if (!Array.isArray(counters) || counters.length === 0 || counters.length > 32) throw new RangeError("between 1 and 32 counters");
  for (const counter of counters) {
    if (typeof counter !== "object" || counter === null) throw new RangeError("counters must be objects");
    const { id, policy } = counter;
    if (typeof id !== "string" || id.length === 0 || id.length > 200) throw new RangeError("counter ids must be 1-200 characters");
    if (typeof policy !== "object" || policy === null || !validPolicy(policy)) throw new RangeError("limit and window must be positive integers, period day or month");
  }
}

/** Distinct plans an object keeps parsed (a scope's keys rarely have more than a few); the oldest is dropped beyond this. */
const MAX_PLANS = 256;
/** 32 counters of 200-character ids and their policies fit well within this. */
const MAX_WIRE_PLAN = 16_384;

function validPolicy(policy: Policy): boolean {
  if (!Number.isSafeInteger(policy.limit) || policy.limit <= 0) return false;
  if (policy.kind === "window") return Number.isSafeInteger(policy.windowMs) && policy.windowMs > 0;
  return policy.kind === "quota" && (policy.period === "day" || policy.period === "month");
}
