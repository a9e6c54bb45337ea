import { InjectQueue } from '@nestjs/bullmq';
import { Inject, Injectable } from '@nestjs/common';
import type { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import type { AppConfig } from '../platform/config/config.js';
import { APP_CONFIG } from '../platform/config/config.module.js';
import { QUEUES } from '../delivery/queues.js';
import { REDIS, RedisKeys } from '../platform/redis/redis.module.js';

/**
 * "Where is my event?" Records live in up to three keys, kept for the deduplication window
 * (DEDUP_WINDOW) and the trace window (EVENT_TRACE_WINDOW, by default the same; 0 = no traces):
 * - `{prefix}:dedup:{id}`: written by ingest when the event is queued; its presence is what
 *   deduplication checks, its value is a small `ReceivedRecord` (when, which job, where in it).
 * - `{prefix}:trace:{id}`: a `TraceRecord`: written by ingest for skipped and rejected messages
 *   (in the same command as the dedup keys), and by the delivery worker after each attempt that
 *   did not simply deliver a whole ingest job (one command per job).
 * - `{prefix}:job-trace:{jobId}`: a `JobTraceRecord`: one per ingest job whose events were all
 *   delivered at its first attempt, the common case. It replaces one trace key per event (about
 *   280 bytes of Redis memory each, and most of the worker's Redis time; BENCHMARKS.md).
 * - `{prefix}:rejected:{code}:records` and `:order`: a sample of the rejected messages, the latest
 *   REJECTED_SAMPLE_SIZE per reason (`RejectedSample`); `{prefix}:rejected:reasons` names them.
 */
export interface ReceivedRecord {
  /** When ingest received the message (ms since epoch). */
  r: number;
  /** The delivery job that carries it. */
  j?: string;
  /** Its position among the job's events. */
  i?: number;
}

/** All events of a job delivered: when, at which attempt, and which Kable request carried which of them. */
export interface JobTraceRecord {
  at: number;
  attempts: number;
  /** Kable's X-REQUEST-ID and how many of the job's events (in order) that request carried. */
  runs: Array<[requestId: string | null, count: number]>;
}

export type TraceRecord =
  | { stage: 'skipped'; at: number; type: string; reason: string }
  | { stage: 'rejected'; at: number; code: string; error: string }
  | { stage: 'delivered'; at: number; jobId?: string; attempts: number; kableRequestId?: string }
  | {
      stage: 'retrying' | 'failed';
      at: number;
      jobId?: string;
      attempts: number;
      status?: number;
      reason: string;
      answer?: string;
      kableRequestId?: string;
    };

/** KEYS: trace keys. ARGV: the trace window, then one record per key. */
const WRITE_TRACES = `for i = 1, #KEYS do redis.call('SET', KEYS[i], ARGV[i + 1], 'PX', ARGV[1]) end return #KEYS`;

/** How long Kable's answer body is kept in a trace record. */
export const TRACE_ANSWER_CHARS = 500;

/**
 * The value of a dedup key: `<receivedAt ms>:<jobId>/<index in the job>` (or just the time). Kept
 * this short on purpose: there is one such key per accepted event for the whole DEDUP_WINDOW, and a
 * JSON object cost 16 more bytes of Redis memory per event (BENCHMARKS.md, scenario 5). Ingest
 * writes the part before the `/` once per request (`receivedValue`) and the index per key (REMEMBER
 * in dedup.store.ts).
 */
export function receivedValue(receivedAt: Date, jobId: string | undefined): string {
  return jobId === undefined ? String(receivedAt.getTime()) : `${receivedAt.getTime()}:${jobId}`;
}

/** Reads a dedup key's value, in the current form or the ones earlier versions wrote (no index, JSON, "1"). */
export function parseReceived(raw: string): ReceivedRecord {
  const match = /^(\d+)(?::(.+?)(?:\/(\d+))?)?$/.exec(raw);
  if (match && raw !== '1') {
    const record: ReceivedRecord = { r: Number(match[1]) };
    if (match[2] !== undefined) record.j = match[2];
    if (match[3] !== undefined) record.i = Number(match[3]);
    return record;
  }
  try {
    const parsed = JSON.parse(raw) as ReceivedRecord;
    if (typeof parsed === 'object' && parsed !== null && typeof parsed.r === 'number') return parsed;
  } catch {
    // Keys written before traces existed hold "1".
  }
  return { r: 0 };
}

/**
 * Kable's X-REQUEST-ID for the event at `index` of a job (runs in order, as the worker wrote them).
 * Without an index (a dedup key written by an earlier version), only when one request carried all.
 */
export function requestIdAt(runs: JobTraceRecord['runs'], index: number | undefined): string | undefined {
  if (index === undefined) return runs.length === 1 ? (runs[0][0] ?? undefined) : undefined;
  let end = 0;
  for (const [requestId, count] of runs) {
    end += count;
    if (index < end) return requestId ?? undefined;
  }
  return undefined;
}

/** Run-length form of the request ids of a job's events, in order. */
export function requestRuns(requestIds: Array<string | undefined>): JobTraceRecord['runs'] {
  const runs: JobTraceRecord['runs'] = [];
  for (const id of requestIds) {
    const last = runs[runs.length - 1];
    if (last && last[0] === (id ?? null)) last[1] += 1;
    else runs.push([id ?? null, 1]);
  }
  return runs;
}

/**
 * Rejected messages keep a sample per reason, not a key each (like the discard samples of
 * Segment's Delivery Overview): a sender sending garbage fills nothing. 20 batches of 2,500 bad
 * messages used to leave 50,000 keys for the trace window.
 */
export const REJECTED_SAMPLE_SIZE = 100;

/** The sample of one rejection reason: a hash messageId → record and the ids in arrival order (to drop the oldest). */
export function rejectedSampleKeys(keys: RedisKeys, code: string): { records: string; order: string } {
  return { records: keys.key('rejected', code, 'records'), order: keys.key('rejected', code, 'order') };
}

/** The set of reasons that have a sample (the lookup reads each). */
export function rejectedReasonsKey(keys: RedisKeys): string {
  return keys.key('rejected', 'reasons');
}

/** The code of a trace note (ingest's `[messageId, record]`) if it records a rejection, else undefined. */
export function rejectedNoteCode(record: string): string | undefined {
  // Only a rejected note can hold this text: the other notes' fields are codes and message types.
  if (!record.includes('"stage":"rejected"')) return undefined;
  const parsed = JSON.parse(record) as Partial<TraceRecord>;
  return parsed.stage === 'rejected' && typeof parsed.code === 'string' ? parsed.code : undefined;
}

/**
 * The rejected notes of a request grouped by code, only the last `size` of each: the earlier ones
 * would be pushed out of the sample by the later ones at once.
 */
export function sampleRejected(
  notes: ReadonlyArray<readonly [messageId: string, record: string, code: string]>,
  size = REJECTED_SAMPLE_SIZE,
): Map<string, Array<[messageId: string, record: string]>> {
  const byCode = new Map<string, Array<[string, string]>>();
  for (const [id, record, code] of notes) {
    const sample = byCode.get(code) ?? [];
    sample.push([id, record]);
    if (sample.length > size) sample.shift();
    byCode.set(code, sample);
  }
  return byCode;
}

/**
 * The newest rejection among the samples' records of one messageId (one per reason at most),
 * ignoring any older than the trace window: a sample of a rare reason can outlive it.
 */
export function newestRejection(
  raws: Array<string | null>,
  now: number,
  windowMs: number,
): Extract<TraceRecord, { stage: 'rejected' }> | undefined {
  let newest: Extract<TraceRecord, { stage: 'rejected' }> | undefined;
  for (const raw of raws) {
    if (raw === null) continue;
    const record = JSON.parse(raw) as TraceRecord;
    if (record.stage !== 'rejected' || record.at < now - windowMs) continue;
    if (!newest || record.at > newest.at) newest = record;
  }
  return newest;
}

export function traceKey(keys: RedisKeys, messageId: string): string {
  return keys.key('trace', messageId);
}

export function jobTraceKey(keys: RedisKeys, jobId: string): string {
  return keys.key('job-trace', jobId);
}

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

@Injectable()
export class EventTraceStore {
  constructor(
    @Inject(REDIS) private readonly redis: Redis,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly keys: RedisKeys,
    @InjectQueue(QUEUES.delivery) private readonly queue: Queue,
  ) {}

  /**
   * Writes one record per event, all in one command (a pipeline of one SET per event cost the
   * worker more CPU than anything else it does per event; `node bench/delivery-cpu.js`).
   */
  async write(records: Array<[messageId: string, record: TraceRecord]>): Promise<void> {
    const ttl = this.config.eventTraceWindowMs;
    if (records.length === 0 || ttl === 0) return;
    const keys = records.map(([id]) => traceKey(this.keys, id));
    await this.redis.eval(WRITE_TRACES, keys.length, ...keys, ttl, ...records.map(([, record]) => JSON.stringify(record)));
  }

  /** The newest rejection of this messageId in the rejected samples, if any. */
  private async rejected(messageId: string): Promise<Extract<TraceRecord, { stage: 'rejected' }> | undefined> {
    const reasons = await this.redis.smembers(rejectedReasonsKey(this.keys));
    if (reasons.length === 0) return undefined;
    const pipeline = this.redis.pipeline();
    for (const code of reasons) pipeline.hget(rejectedSampleKeys(this.keys, code).records, messageId);
    const results = (await pipeline.exec()) ?? [];
    const failed = results.find(([error]) => error);
    if (failed) throw failed[0] as Error;
    return newestRejection(
      results.map(([, value]) => (typeof value === 'string' ? value : null)),
      Date.now(),
      this.config.eventTraceWindowMs,
    );
  }

  /** Whether trace records are kept at all (EVENT_TRACE_WINDOW is not 0). */
  get enabled(): boolean {
    return this.config.eventTraceWindowMs > 0;
  }

  /**
   * Whether the worker may record a job with `writeJob` instead of one record per event: only when
   * every event is found through its dedup key (ingest jobs) for as long as the trace is kept.
   */
  get jobRecords(): boolean {
    return this.enabled && this.config.eventTraceWindowMs <= this.config.dedupWindowMs;
  }

  /** Records that all events of an ingest job were delivered: one key for the whole job. */
  async writeJob(jobId: string, record: JobTraceRecord): Promise<void> {
    await this.redis.set(jobTraceKey(this.keys, jobId), JSON.stringify(record), 'PX', this.config.eventTraceWindowMs);
  }

  async get(messageId: string): Promise<EventTrace | undefined> {
    const [receivedRaw, traceRaw] = await this.redis.mget(this.keys.key('dedup', messageId), traceKey(this.keys, messageId));
    if (receivedRaw === null && traceRaw === null) {
      // Only a message never accepted is looked up among the rejected samples.
      const rejected = await this.rejected(messageId);
      if (!rejected) return undefined;
      const at = new Date(rejected.at).toISOString();
      return { messageId, status: 'rejected', rejected: { at, code: rejected.code, error: rejected.error } };
    }
    const received = receivedRaw === null ? undefined : parseReceived(receivedRaw);
    let trace = traceRaw === null ? undefined : (JSON.parse(traceRaw) as TraceRecord);
    // A rejection (a trace key written before rejections were sampled) never hides an acceptance.
    if (received && trace?.stage === 'rejected') trace = undefined;
    if (received?.j !== undefined) {
      const jobRaw = await this.redis.get(jobTraceKey(this.keys, received.j));
      const job = jobRaw === null ? undefined : (JSON.parse(jobRaw) as JobTraceRecord);
      // The newer of the two delivery records wins (a stalled job run again, say); a skip or
      // rejection of a later copy never hides the delivery.
      const perEvent = trace && ['delivered', 'retrying', 'failed'].includes(trace.stage) ? trace : undefined;
      if (job && (!perEvent || job.at >= perEvent.at)) {
        trace = {
          stage: 'delivered',
          at: job.at,
          jobId: received.j,
          attempts: job.attempts,
          kableRequestId: requestIdAt(job.runs, received.i),
        };
      }
    }
    const iso = (ms: number) => new Date(ms).toISOString();
    const out: EventTrace = { messageId, status: this.enabled ? 'queued' : 'accepted' };
    if (received) out.received = { at: iso(received.r), accepted: true, ...(received.j ? { jobId: received.j } : {}) };
    switch (trace?.stage) {
      case 'skipped':
        out.skipped = { at: iso(trace.at), type: trace.type, reason: trace.reason };
        break;
      case 'rejected':
        out.rejected = { at: iso(trace.at), code: trace.code, error: trace.error };
        break;
      case 'delivered':
        out.delivered = { at: iso(trace.at), attempts: trace.attempts, kableRequestId: trace.kableRequestId };
        break;
      case 'retrying':
      case 'failed': {
        const { stage: _stage, at, jobId: _jobId, ...rest } = trace;
        out.failure = { at: iso(at), ...rest };
        break;
      }
    }
    // An accepted message is queued until the worker says otherwise; a rejected or skipped copy
    // sent later does not change that.
    if (trace && (!received || ['delivered', 'retrying', 'failed'].includes(trace.stage))) out.status = trace.stage;
    const jobId = received?.j ?? (trace && 'jobId' in trace ? trace.jobId : undefined);
    if (jobId && out.status !== 'delivered') {
      // Completed jobs are kept an hour, failed ones a week (kable.module.ts).
      // State first, then the job's hash: a job that finishes between the two reads then shows its
      // final attempt count (read the other way round, a failed job could show attemptsMade 0).
      const state = await this.queue.getJobState(jobId);
      const job = state === 'unknown' ? undefined : await this.queue.getJob(jobId);
      if (job) out.job = { id: jobId, state, attemptsMade: job.attemptsMade };
    }
    return out;
  }
}
