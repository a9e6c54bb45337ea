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
 * read only through job-data.ts: small jobs hold the events, large ones their JSON deflated.
 */
export type DeliverJobData = {
  /** Where the events came from: `ingest`, `engage`, `replay`. */
  source: 'ingest' | 'engage' | 'replay';
  /** Set when a failed attempt rewrote the job to hold only the events still to deliver. */
  retried?: true;
} & (
  | { events: KableEvent[]; deflated?: undefined; count?: undefined }
  | {
      /** The events' JSON, one per line, raw-deflated, base64. */
      deflated: string;
      /** How many events `deflated` holds. */
      count: number;
      events?: undefined;
    }
);

/** Name of the custom backoff strategy the delivery worker implements (capped exponential + jitter + Retry-After). */
export const BACKOFF_TYPE = 'kable';

/** Effectively unbounded attempts: retries stop at the retry horizon (KABLE_RETRY_HORIZON), not at a count. */
export const DELIVERY_ATTEMPTS = 1_000_000;
