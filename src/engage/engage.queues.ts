/**
 * The audience sync queue. Renaming the queue, the job or the scheduler id strands what is
 * already in Redis under the old name (and would leave the old scheduler running).
 */
export const ENGAGE_QUEUE = 'engage-sync';
export const ENGAGE_SYNC_JOB = 'sync';
/** One scheduler for all replicas: upsertJobScheduler with this id is idempotent. */
export const ENGAGE_SCHEDULER_ID = 'engage-audience-sync';

/** The payload of a `sync` job: who asked for it. */
export interface EngageSyncJobData {
  trigger: 'schedule' | 'manual';
}

/** A failed sync attempt is retried after 5 s, 10 s, 20 s, 40 s; after that the next scheduled sync resumes it. */
export const ENGAGE_JOB_OPTIONS = {
  attempts: 5,
  backoff: { type: 'exponential', delay: 5000 },
  removeOnComplete: { count: 100 },
  removeOnFail: { count: 100 },
} as const;
