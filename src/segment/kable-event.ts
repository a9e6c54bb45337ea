/** One usage event as Kable's `POST /api/v1/events/create` takes it (the body is an array of these). */
export interface KableEvent {
  clientId: string;
  /** RFC 3339 UTC. */
  timestamp: string;
  /** Kable's idempotency key: Kable discards a second event with the same id. */
  transactionId: string;
  data: Record<string, unknown>;
}
