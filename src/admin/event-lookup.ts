import { Injectable } from '@nestjs/common';
import { formatJobRef, parseJobRef } from '../delivery/delivery-queues.js';
import { DeliveryProducer } from '../delivery/delivery.producer.js';
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
  received?: { at: string; accepted: true; jobId?: string };
  skipped?: { at: string; type: string; reason: string };
  rejected?: { at: string; code: string; error: string };
  delivered?: { at: string; attempts: number; kableRequestId?: string };
  failure?: { at: string; attempts: number; status?: number; reason: string; answer?: string; kableRequestId?: string };
  job?: { id: string; state: string; attemptsMade: number };
}

const iso = (ms: number) => new Date(ms).toISOString();

/**
 * What happened to a message, from its dedup entry (accepted) and its trace record. An accepted
 * message is queued until the worker says otherwise: a skipped copy sent later does not change that.
 */
export function describeEvent(
  messageId: string,
  entry: DedupEntry | undefined,
  record: TraceRecord | undefined,
  traced: boolean,
): EventTrace {
  const out: EventTrace = { messageId, status: traced ? 'queued' : 'accepted' };
  if (entry) out.received = { at: iso(entry.receivedAt), accepted: true, ...(entry.job ? { jobId: formatJobRef(entry.job) } : {}) };
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
      const { stage: _stage, at, jobId: _jobId, ...rest } = record;
      out.failure = { at: iso(at), ...rest };
      break;
    }
  }
  return out;
}

/** GET /v1/events/:messageId: the dedup entry, the trace record and, until delivered, the delivery job. */
@Injectable()
export class EventLookup {
  constructor(
    private readonly dedup: DedupStore,
    private readonly traces: EventTraceStore,
    private readonly delivery: DeliveryProducer,
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
    const out = describeEvent(messageId, entry, record, this.traces.enabled);
    const ref = entry?.job ?? (record && 'jobId' in record && record.jobId !== undefined ? parseJobRef(record.jobId) : undefined);
    if (ref !== undefined && out.status !== 'delivered') {
      const job = await this.delivery.jobState(ref);
      if (job) out.job = { id: formatJobRef(ref), ...job };
    }
    return out;
  }
}
