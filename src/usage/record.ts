/** A per-call record, sent through USAGE_QUEUE. Never carries the key, only its id. */
export interface UsageMessage {
  kind: "call";
}
