// What the loopback webhook receiver (leak-fixtures.ts) records of each delivery and serves to the tests.
// Types only, no imports: the Node-side fixtures and the workerd-side tests (test/webhooks/support.ts) share it.
export interface ReceivedWebhook {
  id: string;
  timestamp: string;
  signature: string;
  /** Verified with the Standard Webhooks reference implementation before being recorded. */
  verified: boolean;
  /** What the receiver answered: 2xx delivered, 503 a failure the test asked for. */
  status: number;
  body: { type: string; timestamp: string; data: Record<string, unknown> & { org_id: string; key_id: string } } | null;
  raw: string;
}
