import type { AuthFailureReason } from "./auth_failures";

/**
 * SPEC §8: what USAGE_QUEUE carries from the isolates (src/usage/record.ts) to the consumer, which
 * writes it with store/usage.ts. Defined here, below both, so the store imports nothing above it.
 * No message ever holds an API key: calls carry the key's id, failures at most the id of the key.
 */

/** One call by a known, valid key, as D1 keeps a sample of them (`usage_recent`). */
export interface RecentCall {
  keyId: string;
  orgId: string;
  method: string;
  /** Path only: query strings often carry personal data, and the origin logs them anyway. */
  path: string;
  status: number;
  latencyMs: number;
  /** Epoch ms. */
  at: number;
}

/** A key's calls in one minute with one status class. */
export interface UsageAggregate {
  keyId: string;
  orgId: string;
  /** Epoch ms of the minute's start. */
  minute: number;
  /** 1-5: the status's hundreds digit. */
  statusClass: number;
  count: number;
  maxMs: number;
  /** HISTOGRAM_BUCKETS counts (histogram.ts). */
  histogram: number[];
}

/** Failed authentications per (org and key when known, source, reason, hour). */
export interface FailureAggregate {
  source: string;
  reason: AuthFailureReason;
  keyId: string | null;
  orgId: string | null;
  /** Epoch ms of the hour's start. */
  hour: number;
  count: number;
  firstAt: number;
  lastAt: number;
}

/**
 * A queue message. `v` lets the consumer drop what an older or newer producer sends instead of
 * retrying it forever; `id` is the idempotency key: a message applied once is skipped when
 * redelivered (or re-sent after a send whose success was not reported).
 */
export interface UsageMessage {
  v: typeof USAGE_MESSAGE_VERSION;
  id: string;
  aggregates: UsageAggregate[];
  recent: RecentCall[];
  failures: FailureAggregate[];
}

export const USAGE_MESSAGE_VERSION = 2;
