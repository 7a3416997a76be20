// The Durable Object limiter's compact call format, apart from the object itself so that code
// running outside workerd (the OpenAPI and config tooling under Node) can import the limiter
// without `cloudflare:workers`.
import type { PolicyDecision } from "./counters";
import type { KeyEnd, LimitAnswer } from "./interface";
import type { Counter } from "./policy";

/** A plan's counters as `decideWire` takes them; the limiter computes it once per plan. */
export function wirePlan(counters: readonly Counter[]): string {
  return JSON.stringify(counters);
}

/** Per answer: allowed, end reason (0 none, 1 revoked, 2 expired), end at, changedAt (-1 none); then per policy: allowed, remaining, resetAt. */
const ANSWER_HEAD = 4;
const END_REASONS: readonly (KeyEnd["reason"] | undefined)[] = [undefined, "revoked", "expired"];

export function encodeAnswer(answer: LimitAnswer): number[] {
  const out = [answer.allowed ? 1 : 0, answer.ended ? END_REASONS.indexOf(answer.ended.reason) : 0, answer.ended?.at ?? 0, answer.changedAt ?? -1];
  for (const p of answer.policies) out.push(p.allowed ? 1 : 0, p.remaining, p.resetAt);
  return out;
}

/** `encodeAnswer`'s inverse, given the plan's counters (which name the policies, in the same order). */
export function decodeAnswer(counters: readonly Counter[], wire: number[]): LimitAnswer {
  if (!Array.isArray(wire) || wire.length !== ANSWER_HEAD + 3 * counters.length) throw new RangeError("answer does not match the plan");
  const policies = counters.map(({ policy }, i): PolicyDecision => {
    const at = ANSWER_HEAD + 3 * i;
    return { name: policy.name, kind: policy.kind, limit: policy.limit, allowed: wire[at] === 1, remaining: wire[at + 1]!, resetAt: wire[at + 2]! };
  });
  const answer: LimitAnswer = { allowed: wire[0] === 1, policies };
  const reason = END_REASONS[wire[1]!];
  if (reason) answer.ended = { reason, at: wire[2]! };
  if (wire[3]! >= 0) answer.changedAt = wire[3]!;
  return answer;
}

