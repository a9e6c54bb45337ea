import { Inject, Injectable } from '@nestjs/common';
import type { AppConfig } from '../platform/config/config.js';
import { APP_CONFIG } from '../platform/config/config.module.js';
import { REDIS, type RedisClient, RedisKeys } from '../platform/redis/redis.module.js';
import { isWellFormed, LIMITS } from '../segment/segment-message.js';
import { formatJobRef, type JobRef } from '../platform/redis/keys.js';

/*
 * Trace records, kept for the trace window (EVENT_TRACE_WINDOW; 0 = none). Only this file knows their keys and format:
 * - `trace:{id}` in the id's shard: a `TraceRecord`, written by ingest for skipped messages and by the
 *   delivery worker after each attempt that did not simply deliver a whole ingest job.
 * - `job-trace:{jobId}` in the job's shard: a `JobTraceRecord`, one per ingest job delivered whole at its first
 *   attempt (the common case), instead of one key per event.
 * - `{prefix}:rejected:{code}:records` and `:order`: the latest REJECTED_SAMPLE_SIZE rejections per
 *   reason; `{prefix}:rejected:reasons` names the reasons.
 */

/** What a trace key holds: the last thing that happened to a message. */
export type TraceRecord =
  | { stage: 'skipped'; at: number; type: string; reason: string }
  | { stage: 'delivered'; at: number; jobId?: string; queuedAt?: number; attempts: number; kableRequestId?: string }
  | {
      stage: 'retrying' | 'failed';
      at: number;
      jobId?: string;
      /** When its job was queued (ms since epoch): the event lookup's `received.at` once the job is gone. */
      queuedAt?: number;
      attempts: number;
      status?: number;
      reason: string;
      answer?: string;
      kableRequestId?: string;
    };

/** A rejected message, as its reason's sample keeps it. */
export interface RejectedRecord {
  stage: 'rejected';
  at: number;
  code: string;
  error: string;
}

/** What ingest records about a message it did not queue: skipped (a trace key) or rejected (a sample). */
export type IngestNote = [messageId: string, record: Extract<TraceRecord, { stage: 'skipped' }> | RejectedRecord];

/** All events of a job delivered: when, at which attempt, and which Kable request carried which of them. */
export interface JobTraceRecord {
  at: number;
  /** When the job was queued (ms since epoch): when its events were accepted, for the event lookup once the job is gone. */
  queuedAt?: number;
  attempts: number;
  /** Kable's X-REQUEST-ID and how many of the job's events (in order) that request carried. */
  runs: Array<[requestId: string | null, count: number]>;
}

/** How long Kable's answer body is kept in a trace record. */
export const TRACE_ANSWER_CHARS = 500;

/** Rejections keep a sample per reason, not a key each: a sender sending garbage fills nothing. */
export const REJECTED_SAMPLE_SIZE = 100;

/** KEYS: trace keys (of one shard). ARGV: the trace window, then one record per key. */
const WRITE_TRACES = `for i = 1, #KEYS do redis.call('SET', KEYS[i], ARGV[i + 1], 'PX', ARGV[1]) end return #KEYS`;

/** WRITE_TRACES for skipped notes, which never replace a trace key that exists. */
const WRITE_SKIPPED = `for i = 1, #KEYS do redis.call('SET', KEYS[i], ARGV[i + 1], 'PX', ARGV[1], 'NX') end return #KEYS`;

/**
 * KEYS: the reasons set and, per reason, its records hash and order list (all in shard 0). ARGV:
 * the trace window, the number of reasons S, the sample size, then per reason its code, its number
 * of samples and (messageId, record) for each. A sample keeps the latest ids of its reason: each
 * hash field has one entry in `order`, and past the sample size the oldest is dropped.
 */
const WRITE_REJECTED = `
local ttl, reasons, size = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
local set, k, a = KEYS[1], 2, 4
for s = 1, reasons do
  local records, order = KEYS[k], KEYS[k + 1]
  local code, count = ARGV[a], tonumber(ARGV[a + 1])
  a = a + 2
  for i = 1, count do
    if redis.call('HSET', records, ARGV[a], ARGV[a + 1]) == 1 then
      redis.call('RPUSH', order, ARGV[a])
      if redis.call('LLEN', order) > size then redis.call('HDEL', records, redis.call('LPOP', order)) end
    end
    a = a + 2
  end
  redis.call('SADD', set, code)
  redis.call('PEXPIRE', records, ttl)
  redis.call('PEXPIRE', order, ttl)
  k = k + 2
end
redis.call('PEXPIRE', set, ttl)
return #KEYS`;

/** Kable's X-REQUEST-ID for the event at `index` of a job (runs in order, as the worker wrote them). */
export function requestIdAt(runs: JobTraceRecord['runs'], index: number): string | undefined {
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
    const last = runs.at(-1);
    if (last && last[0] === (id ?? null)) last[1] += 1;
    else runs.push([id ?? null, 1]);
  }
  return runs;
}

/**
 * The record that tells what happened to the event at `inJob` of an ingest job: the job's record
 * if it is newer than the event's own delivery record (a stalled job run again), which a skip of a
 * later copy never hides.
 */
export function eventRecord(
  own: TraceRecord | undefined,
  job: JobTraceRecord | undefined,
  inJob: (JobRef & { index: number }) | undefined,
): TraceRecord | undefined {
  if (!job || !inJob) return own;
  if (own && own.stage !== 'skipped' && own.at > job.at) return own;
  return {
    stage: 'delivered',
    at: job.at,
    jobId: formatJobRef(inJob),
    ...(job.queuedAt === undefined ? {} : { queuedAt: job.queuedAt }),
    attempts: job.attempts,
    kableRequestId: requestIdAt(job.runs, inJob.index),
  };
}

/** The rejected notes of a request grouped by code, only the last `size` of each (the earlier ones would be pushed out at once). */
export function sampleRejected(
  notes: ReadonlyArray<readonly [messageId: string, record: RejectedRecord]>,
  size = REJECTED_SAMPLE_SIZE,
): Map<string, Array<[messageId: string, record: string]>> {
  const byCode = new Map<string, Array<[string, string]>>();
  for (const [id, record] of notes) {
    const sample = byCode.get(record.code) ?? [];
    sample.push([id, JSON.stringify(record)]);
    if (sample.length > size) sample.shift();
    byCode.set(record.code, sample);
  }
  return byCode;
}

/** The newest rejection among the samples' records of one messageId, ignoring any older than the trace window (a rare reason's sample can outlive it). */
export function newestRejection(raws: Array<string | null>, now: number, windowMs: number): RejectedRecord | undefined {
  let newest: RejectedRecord | undefined;
  for (const raw of raws) {
    if (raw === null) continue;
    const record = JSON.parse(raw) as RejectedRecord;
    if (record.at < now - windowMs) continue;
    if (!newest || record.at > newest.at) newest = record;
  }
  return newest;
}

/** Whether a messageId can name a trace key: a lone surrogate would share its Redis key with another id. */
function traceable(messageId: string): boolean {
  return messageId !== '' && messageId.length <= LIMITS.messageIdLength && isWellFormed(messageId);
}

/** The one owner of trace records: ingest and the delivery worker write them, the event lookup reads them. */
@Injectable()
export class EventTraceStore {
  constructor(
    @Inject(REDIS) private readonly redis: RedisClient,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly keys: RedisKeys,
  ) {}

  /** Whether trace records are kept at all (EVENT_TRACE_WINDOW is not 0). */
  get enabled(): boolean {
    return this.config.eventTraceWindowMs > 0;
  }

  /**
   * Whether the worker may record a job with `writeJob` instead of one record per event: only when
   * every event is found through its dedup entry (ingest jobs) for as long as the trace is kept.
   */
  get jobRecords(): boolean {
    return this.enabled && this.config.eventTraceWindowMs <= this.config.dedupWindowMs;
  }

  private traceKey(messageId: string): string {
    return this.keys.shardKey(this.keys.shardOf(messageId), 'trace', messageId);
  }

  private jobTraceKey(job: JobRef): string {
    return this.keys.shardKey(job.shard, 'job-trace', job.id);
  }

  /** Runs `script` once per shard over the records' keys (each a key of its id's shard), ARGV: the trace window, then the records. */
  private async writeByShard(script: string, records: Array<[messageId: string, record: string]>): Promise<void> {
    await Promise.all(
      [...this.keys.byShard(records, ([id]) => id)].map(([shard, group]) =>
        this.redis.eval(
          script,
          group.length,
          ...group.map(([id]) => this.keys.shardKey(shard, 'trace', id)),
          this.config.eventTraceWindowMs,
          ...group.map(([, record]) => record),
        ),
      ),
    );
  }

  private rejectedKeys(code: string): { records: string; order: string } {
    return { records: this.keys.key('rejected', code, 'records'), order: this.keys.key('rejected', code, 'order') };
  }

  private rejectedReasonsKey(): string {
    return this.keys.key('rejected', 'reasons');
  }

  /** Writes one record per event, one command per shard (a pipeline of SETs cost the worker more CPU than anything else per event). */
  async write(records: Array<[messageId: string, record: TraceRecord]>): Promise<void> {
    if (records.length === 0 || !this.enabled) return;
    await this.writeByShard(
      WRITE_TRACES,
      records.map(([id, record]) => [id, JSON.stringify(record)]),
    );
  }

  /** Records that all events of an ingest job were delivered: one key for the whole job. */
  async writeJob(job: JobRef, record: JobTraceRecord): Promise<void> {
    await this.redis.set(this.jobTraceKey(job), JSON.stringify(record), 'PX', this.config.eventTraceWindowMs);
  }

  /** Ingest's notes of skipped and rejected messages: one command per shard; ids that cannot name a key are left out. */
  async writeNotes(notes: IngestNote[]): Promise<void> {
    if (!this.enabled) return;
    const skipped: Array<[string, string]> = [];
    const rejected: Array<[string, RejectedRecord]> = [];
    for (const [id, record] of notes) {
      if (!traceable(id)) continue;
      if (record.stage === 'rejected') rejected.push([id, record]);
      else skipped.push([id, JSON.stringify(record)]);
    }
    const writes: Array<Promise<unknown>> = [];
    if (skipped.length > 0) writes.push(this.writeByShard(WRITE_SKIPPED, skipped));
    if (rejected.length > 0) {
      const samples = sampleRejected(rejected);
      const keys = [this.rejectedReasonsKey()];
      const args: Array<string | number> = [this.config.eventTraceWindowMs, samples.size, REJECTED_SAMPLE_SIZE];
      for (const [code, sample] of samples) {
        const { records, order } = this.rejectedKeys(code);
        keys.push(records, order);
        args.push(code, sample.length, ...sample.flat());
      }
      writes.push(this.redis.eval(WRITE_REJECTED, keys.length, ...keys, ...args));
    }
    await Promise.all(writes);
  }

  /** What the trace says happened to a message; `inJob`: where its dedup entry says it was queued. */
  async record(messageId: string, inJob?: JobRef & { index: number }): Promise<TraceRecord | undefined> {
    // Two keys, two slots: the id's shard and the job's.
    const [own, job] = await Promise.all([
      this.redis.get(this.traceKey(messageId)),
      inJob ? this.redis.get(this.jobTraceKey(inJob)) : null,
    ]);
    return eventRecord(
      own === null || own === undefined ? undefined : (JSON.parse(own) as TraceRecord),
      job === null || job === undefined ? undefined : (JSON.parse(job) as JobTraceRecord),
      inJob,
    );
  }

  /** The newest rejection of this messageId in the rejected samples, if any. */
  async rejection(messageId: string): Promise<RejectedRecord | undefined> {
    const reasons = await this.redis.smembers(this.rejectedReasonsKey());
    if (reasons.length === 0) return undefined;
    const pipeline = this.redis.pipeline();
    for (const code of reasons) pipeline.hget(this.rejectedKeys(code).records, messageId);
    const results = (await pipeline.exec()) ?? [];
    const failed = results.find(([error]) => error);
    if (failed) throw failed[0] as Error;
    return newestRejection(
      results.map(([, value]) => (typeof value === 'string' ? value : null)),
      Date.now(),
      this.config.eventTraceWindowMs,
    );
  }
}
