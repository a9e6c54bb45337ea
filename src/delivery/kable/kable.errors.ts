/** Kable's answer for an event, after Segment's destination model. */
export type OutcomeKind = 'ok' | 'retryable' | 'final';

/**
 * What Kable's answer means for one event: `ok` (taken), `retryable` (may succeed later: network
 * error, timeout, 408, 423, 429, 5xx but 501) or `final` (retrying cannot help: 400, 401, 403, 501,
 * other 4xx; kept as a dead letter). `body` is Kable's answer, cut to a readable length.
 */
export type Outcome =
  | { kind: 'ok'; status?: number; requestId?: string }
  | {
      kind: 'retryable' | 'final';
      status?: number;
      /** A short human-readable reason: `HTTP 503`, `timeout after 10000 ms`, `ECONNREFUSED`. */
      reason: string;
      body?: string;
      requestId?: string;
      retryAfterMs?: number;
    };

export type Failure = Extract<Outcome, { kind: 'retryable' | 'final' }>;

/** One request's answer: the outcome of every event it carried, plus its duration (only a request has one). */
export type SendResult = Outcome & { durationMs: number };

export function classifyStatus(status: number): OutcomeKind {
  if (status >= 200 && status < 300) return 'ok';
  if (status === 408 || status === 423 || status === 429) return 'retryable';
  if (status >= 500 && status !== 501) return 'retryable';
  return 'final';
}

/** Parses `Retry-After` (seconds or an HTTP date) into milliseconds from `now`; undefined if absent or unreadable. */
export function parseRetryAfter(value: string | undefined, now = Date.now()): number | undefined {
  if (value === undefined || value.trim() === '') return undefined;
  const text = value.trim();
  if (/^\d+(\.\d+)?$/.test(text)) return Math.round(Number(text) * 1000);
  const date = Date.parse(text);
  if (Number.isNaN(date)) return undefined;
  return Math.max(0, date - now);
}

/** Thrown by the delivery processor for a retryable failure; carries Retry-After for the backoff. */
export class RetryableDeliveryError extends Error {
  constructor(
    message: string,
    readonly retryAfterMs?: number,
  ) {
    super(message);
    this.name = 'RetryableDeliveryError';
  }
}

/** Capped exponential backoff with full jitter, never shorter than Kable's Retry-After. attemptsMade counts from 1. */
export function backoffDelay(attemptsMade: number, maxDelayMs: number, retryAfterMs?: number, random = Math.random): number {
  const base = 1000;
  const exponential = Math.min(maxDelayMs, base * 2 ** Math.min(30, Math.max(0, attemptsMade - 1)));
  const jittered = Math.round(exponential / 2 + random() * (exponential / 2));
  return Math.max(jittered, retryAfterMs ?? 0);
}
