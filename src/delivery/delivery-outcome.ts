import { requestRuns, TRACE_ANSWER_CHARS, type JobTraceRecord, type TraceRecord } from '../trace/event-trace.js';
import type { DeadLetter } from './dead-letter.store.js';
import type { Failure, Outcome } from './kable/kable.errors.js';
import type { DeliverJobData } from './queues.js';

/** What the plan needs to know of the job being delivered. */
export interface JobFacts {
  id?: string;
  /** When the job was first queued (ms since epoch): the retry horizon counts from it. */
  queuedAt: number;
  /** Attempts made before this one. */
  attemptsMade: number;
  source: DeliverJobData['source'];
  retried?: true;
}

export interface PlanSettings {
  /** KABLE_RETRY_HORIZON: a retryable event queued longer ago becomes a dead letter. */
  retryHorizonMs: number;
  /** EventTraceStore.enabled: whether to record trace records at all. */
  traces: boolean;
  /** EventTraceStore.jobRecords: whether a job delivered whole may be recorded as one record. */
  jobRecords: boolean;
}

/** A dead letter to keep, but for the event itself (`index` in the job). */
export interface PlannedDeadLetter {
  index: number;
  letter: Omit<DeadLetter, 'event'>;
}

/** How the job's trace is recorded: one record for a job delivered whole, else one per event (by index). */
export type TracePlan =
  | { kind: 'none' }
  | { kind: 'job'; jobId: string; record: JobTraceRecord }
  | { kind: 'events'; records: Array<[index: number, record: TraceRecord]> };

/**
 * How the attempt ends: `retry` the `retry` events later (after Retry-After at least; a 429 with
 * Retry-After pauses the whole queue for `pauseQueueMs` without using an attempt), or `fail` when
 * every event failed for good (the dead letters keep them) so the job shows as failed.
 */
export type JobEnd =
  | { kind: 'complete' }
  | { kind: 'retry'; message: string; retryAfterMs?: number; pauseQueueMs?: number }
  | { kind: 'fail'; message: string };

export interface DeliveryPlan {
  /** Events Kable took. */
  delivered: number;
  /** The events (indices in the job) to try again, in order. */
  retry: number[];
  deadLetters: PlannedDeadLetter[];
  /** Whether the job must be rewritten to hold only the `retry` events. */
  rewrite: boolean;
  trace: TracePlan;
  end: JobEnd;
}

function describe(failure: { reason: string; body?: string }): string {
  return failure.body ? `${failure.reason}: ${failure.body}` : failure.reason;
}

/** Turns Kable's answers for a job's events (one outcome per event, in order) into what to do. */
export function planDelivery(outcomes: Outcome[], job: JobFacts, now: number, settings: PlanSettings): DeliveryPlan {
  const attempts = job.attemptsMade + 1;
  const withinHorizon = now - job.queuedAt < settings.retryHorizonMs;
  const horizonMinutes = Math.round(settings.retryHorizonMs / 60_000);
  const retry: number[] = [];
  const deadLetters: PlannedDeadLetter[] = [];
  const records: Array<[number, TraceRecord]> = [];
  let delivered = 0;
  let firstRetry: Failure | undefined;

  // The common case, an ingest job delivered whole at its first attempt and never rewritten (a 429
  // rewrites it without using an attempt), is one key for the job, which the dedup keys point to.
  const allDelivered = outcomes.every((outcome) => outcome.kind === 'ok');
  const jobRecordId =
    settings.jobRecords && job.source === 'ingest' && job.attemptsMade === 0 && job.retried === undefined && allDelivered
      ? job.id
      : undefined;
  const perEvent = settings.traces && jobRecordId === undefined;

  outcomes.forEach((outcome, index) => {
    if (outcome.kind === 'ok') {
      delivered += 1;
      if (perEvent) {
        records.push([
          index,
          { stage: 'delivered', at: now, jobId: job.id, queuedAt: job.queuedAt, attempts, kableRequestId: outcome.requestId },
        ]);
      }
      return;
    }
    const failure = {
      at: now,
      jobId: job.id,
      queuedAt: job.queuedAt,
      attempts,
      status: outcome.status,
      reason: outcome.reason,
      answer: outcome.body?.slice(0, TRACE_ANSWER_CHARS),
      kableRequestId: outcome.requestId,
    };
    if (outcome.kind === 'retryable' && withinHorizon) {
      retry.push(index);
      firstRetry ??= outcome;
      if (settings.traces) records.push([index, { stage: 'retrying', ...failure }]);
      return;
    }
    const reason =
      outcome.kind === 'retryable' ? `gave up after the retry horizon (${horizonMinutes} min): ${outcome.reason}` : outcome.reason;
    deadLetters.push({
      index,
      letter: {
        reason,
        status: outcome.status,
        body: outcome.body,
        requestId: outcome.requestId,
        attempts,
        queuedAt: job.queuedAt,
        failedAt: now,
        jobId: job.id,
      },
    });
    if (settings.traces) records.push([index, { stage: 'failed', ...failure, reason }]);
  });

  const trace: TracePlan =
    jobRecordId !== undefined
      ? {
          kind: 'job',
          jobId: jobRecordId,
          record: { at: now, queuedAt: job.queuedAt, attempts, runs: requestRuns(outcomes.map((o) => o.requestId)) },
        }
      : records.length > 0
        ? { kind: 'events', records }
        : { kind: 'none' };

  const firstDead = deadLetters[0]?.letter;
  let end: JobEnd = { kind: 'complete' };
  if (firstRetry) {
    const { status, retryAfterMs } = firstRetry;
    end = {
      kind: 'retry',
      message: describe(firstRetry),
      retryAfterMs,
      pauseQueueMs: status === 429 ? retryAfterMs : undefined,
    };
  } else if (delivered === 0 && firstDead) {
    end = { kind: 'fail', message: describe(firstDead) };
  }

  return { delivered, retry, deadLetters, rewrite: retry.length > 0 && retry.length < outcomes.length, trace, end };
}
