import { Injectable } from '@nestjs/common';
import { DeliveryQueues, formatJobRef, type JobRef, parseJobRef } from '../delivery/delivery-queues.js';
import { type DedupEntry, DedupStore } from '../ingest/dedup.store.js';
import { EventTraceStore, type TraceRecord } from '../trace/event-trace.js';

/** What GET /v1/events/:messageId answers. */
export interface EventTrace {
  messageId: string;
  /**
   * queued: accepted and waiting for Kable; retrying: Kable failed, will try again; failed: kept as
   * a dead letter; accepted: accepted, delivery not traced (EVENT_TRACE_WINDOW=0; see `job`).
   */
  status: 'queued' | 'delivered' | 'retrying' | 'failed' | 'skipped' | 'rejected' | 'accepted';
  /** `at`: when its job was queued, a few ms after the request came in; unknown once the job is gone and no trace record says. */
  received?: { at?: string; accepted: true; jobId?: string };
  skipped?: { at: string; type: string; reason: string };
  rejected?: { at: string; code: string; error: string };
  delivered?: { at: string; attempts: number; kableRequestId?: string };
  failure?: { at: string; attempts: number; status?: number; reason: string; answer?: string; kableRequestId?: string };
  job?: { id: string; state: string; attemptsMade: number };
}

const iso = (ms: number) => new Date(ms).toISOString();

/**
 * What happened to a message, from its dedup entry (accepted) and its trace record; `queuedAt`: when
 * its job was queued, if known. An accepted message is queued until the worker says otherwise: a
 * skipped copy sent later does not change that.
 */
export function describeEvent(
  messageId: string,
  entry: DedupEntry | undefined,
  record: TraceRecord | undefined,
  traced: boolean,
  queuedAt?: number,
): EventTrace {
  const out: EventTrace = { messageId, status: traced ? 'queued' : 'accepted' };
  if (entry) {
    out.received = {
      ...(queuedAt === undefined ? {} : { at: iso(queuedAt) }),
      accepted: true,
      ...(entry.job ? { jobId: formatJobRef(entry.job) } : {}),
    };
  }
  if (!record) return out;
  if (!entry || record.stage !== 'skipped') out.status = record.stage;
  switch (record.stage) {
    case 'skipped':
      out.skipped = { at: iso(record.at), type: record.type, reason: record.reason };
      break;
    case 'delivered':
      out.delivered = { at: iso(record.at), attempts: record.attempts, kableRequestId: record.kableRequestId };
      break;
    case 'retrying':
    case 'failed': {
      const { stage: _stage, at, jobId: _jobId, queuedAt: _queuedAt, ...rest } = record;
      out.failure = { at: iso(at), ...rest };
      break;
    }
  }
  return out;
}

/**
 * GET /v1/events/:messageId: the dedup entry, the trace record and, until delivered, the delivery job;
 * when the job was queued from the job while it exists, else from the trace record.
 */
@Injectable()
export class EventLookup {
  constructor(
    private readonly dedup: DedupStore,
    private readonly traces: EventTraceStore,
    private readonly queues: DeliveryQueues,
  ) {}

  async find(messageId: string): Promise<EventTrace | undefined> {
    const entry = await this.dedup.lookup(messageId);
    const record = await this.traces.record(messageId, entry?.job);
    if (!entry && !record) {
      // Only a message never accepted is looked up among the rejected samples.
      const rejected = await this.traces.rejection(messageId);
      if (!rejected) return undefined;
      return { messageId, status: 'rejected', rejected: { at: iso(rejected.at), code: rejected.code, error: rejected.error } };
    }
    const recorded = record && 'queuedAt' in record ? record.queuedAt : undefined;
    const ref = entry?.job ?? (record && 'jobId' in record && record.jobId !== undefined ? parseJobRef(record.jobId) : undefined);
    // The job is read until delivered (its state), and after only if no record says when it was queued.
    const delivered = record?.stage === 'delivered';
    const job = ref !== undefined && (!delivered || recorded === undefined) ? await this.job(ref) : undefined;
    const out = describeEvent(messageId, entry, record, this.traces.enabled, recorded ?? job?.timestamp);
    if (ref !== undefined && job && out.status !== 'delivered') {
      out.job = { id: formatJobRef(ref), state: job.state, attemptsMade: job.attemptsMade };
    }
    return out;
  }

  /** A job's state, attempts and when it was queued; undefined once removed. State first, so a job finishing meanwhile shows its final attempts. */
  private async job(ref: JobRef): Promise<{ state: string; attemptsMade: number; timestamp: number } | undefined> {
    const queue = this.queues.at(ref.shard);
    const state = await queue.getJobState(ref.id);
    const job = state === 'unknown' ? undefined : await queue.getJob(ref.id);
    return job ? { state, attemptsMade: job.attemptsMade, timestamp: job.timestamp } : undefined;
  }
}
