import type { KableEvent } from '../segment/kable-event.js';

/**
 * Queue and job names. Renaming one strands the jobs already in Redis under the old name:
 * drain the queue first.
 */
export const QUEUES = {
  delivery: 'kable-delivery',
} as const;

export const JOBS = {
  deliver: 'deliver',
} as const;

/**
 * The payload of a `deliver` job: Kable events mapped at ingest, delivered together. Written and
 * read only through `encodeJobData` / `decodeJobEvents` (job-data.ts): large jobs hold the events
 * deflated.
 */
export interface DeliverJobData {
  /** The events as JSON (small jobs, and jobs queued before compression existed). */
  events?: KableEvent[];
  /** The events' JSON, raw-deflated, base64. */
  deflated?: string;
  /** How many events `deflated` holds. */
  count?: number;
  /** Where the events came from: `ingest`, `engage`, `replay`. */
  source: 'ingest' | 'engage' | 'replay';
  /** Set when a failed attempt rewrote the job to hold only the events still to deliver. */
  retried?: true;
}

/** Name of the custom backoff strategy the delivery worker implements (capped exponential + jitter + Retry-After). */
export const BACKOFF_TYPE = 'kable';

/** Effectively unbounded attempts: retries stop at the retry horizon (KABLE_RETRY_HORIZON), not at a count. */
export const DELIVERY_ATTEMPTS = 1_000_000;
