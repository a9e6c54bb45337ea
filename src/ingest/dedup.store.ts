import { Inject, Injectable } from '@nestjs/common';
import type { Redis } from 'ioredis';
import type { AppConfig } from '../platform/config/config.js';
import { APP_CONFIG } from '../platform/config/config.module.js';
import { backlogKey } from '../delivery/backlog.counter.js';
import {
  REJECTED_SAMPLE_SIZE,
  rejectedNoteCode,
  rejectedReasonsKey,
  rejectedSampleKeys,
  sampleRejected,
  traceKey,
} from '../trace/event-trace.js';
import { REDIS, RedisKeys } from '../platform/redis/redis.module.js';

/**
 * KEYS: the backlog counter, the dedup keys, the trace keys of the notes, then (when there are
 * rejected samples) the reasons set and, per reason, its sample's records hash and order list.
 * ARGV: the dedup window, the trace window, the backlog increment, the number of runs R, the number
 * of notes N, the number of reasons S, the sample size, then R triples (number of dedup keys, their
 * value, the job index of the first of them) in KEYS order, then N note records, then per reason
 * its code, its number of samples and (messageId, record) for each. Each dedup key's value is its
 * run's value, "/", and its index in the job.
 *
 * A sample keeps the latest ids of its reason: an id new to it is appended to `order` and, past
 * the sample size, the oldest is dropped from both; an id already in it only has its record
 * replaced. So each hash field has exactly one entry in `order`, and a sample never grows.
 */
const REMEMBER = `
if tonumber(ARGV[3]) > 0 then redis.call('INCRBY', KEYS[1], ARGV[3]) end
local runs, notes, reasons, size = tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6]), tonumber(ARGV[7])
local k = 2
for r = 1, runs do
  local count = tonumber(ARGV[5 + 3 * r])
  local value = ARGV[6 + 3 * r] .. '/'
  local start = tonumber(ARGV[7 + 3 * r])
  for i = k, k + count - 1 do redis.call('SET', KEYS[i], value .. (start + i - k), 'PX', ARGV[1]) end
  k = k + count
end
local a = 8 + 3 * runs
for i = 0, notes - 1 do redis.call('SET', KEYS[k + i], ARGV[a + i], 'PX', ARGV[2], 'NX') end
k = k + notes
a = a + notes
if reasons > 0 then
  local set = KEYS[k]
  k = k + 1
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
    redis.call('PEXPIRE', records, ARGV[2])
    redis.call('PEXPIRE', order, ARGV[2])
    k = k + 2
  end
  redis.call('PEXPIRE', set, ARGV[2])
end
return #KEYS`;

/**
 * Remembers accepted messageIds for the deduplication window (DEDUP_WINDOW).
 *
 * Order matters for "never lose": ingest first checks (`seen`), then queues the events, then
 * remembers them. If Redis fails after queueing but before remembering, a retry is queued again
 * and reaches Kable with the same transactionId, which Kable discards; a message is never marked
 * as seen without having been queued.
 */
@Injectable()
export class DedupStore {
  constructor(
    @Inject(REDIS) private readonly redis: Redis,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly keys: RedisKeys,
  ) {}

  private key(messageId: string): string {
    return this.keys.key('dedup', messageId);
  }

  /** For each id, whether it was accepted before inside the window. */
  async seen(messageIds: string[]): Promise<boolean[]> {
    if (messageIds.length === 0) return [];
    const values = await this.redis.mget(messageIds.map((id) => this.key(id)));
    return values.map((value) => value !== null);
  }

  /**
   * Marks the ids as accepted. Each run's `value` (`receivedValue`, src/trace/event-trace.ts) says
   * when its request was received and which job carries it, and `start` where its first event is
   * in that job (the others follow in order), for GET /v1/events/:messageId (a group commit stores
   * several requests, one run each). `notes` are trace records of skipped and rejected messages,
   * written in the same round trip: a skipped one as a key of its own, never over one that exists;
   * a rejected one into the sample of its reason (REJECTED_SAMPLE_SIZE per reason, so rejections
   * never fill Redis). `backlogAdded` events are added to the backlog counter in the same command.
   */
  async remember(
    runs: Array<{ messageIds: string[]; value: string; start: number }>,
    notes: Array<[messageId: string, record: string]> = [],
    backlogAdded = 0,
  ): Promise<void> {
    const used = runs.filter((run) => run.messageIds.length > 0);
    if (used.length === 0 && notes.length === 0 && backlogAdded === 0) return;
    const traced: Array<[string, string]> = [];
    const rejected: Array<[string, string, string]> = [];
    for (const [id, record] of notes) {
      const code = rejectedNoteCode(record);
      if (code === undefined) traced.push([id, record]);
      else rejected.push([id, record, code]);
    }
    const samples = sampleRejected(rejected);
    // One command for the whole request instead of one SET per message: ioredis's per-command
    // cost (objects, promises, encoding) was the largest single cost of batch ingest (BENCHMARKS.md).
    // The backlog counter (BacklogCounter) is counted in the same command: one round trip less.
    const keys = [backlogKey(this.keys)];
    const args: Array<string | number> = [
      this.config.dedupWindowMs,
      this.config.eventTraceWindowMs,
      backlogAdded,
      used.length,
      traced.length,
      samples.size,
      REJECTED_SAMPLE_SIZE,
    ];
    for (const run of used) {
      for (const id of run.messageIds) keys.push(this.key(id));
      args.push(run.messageIds.length, run.value, run.start);
    }
    for (const [id, record] of traced) {
      keys.push(traceKey(this.keys, id));
      args.push(record);
    }
    if (samples.size > 0) keys.push(rejectedReasonsKey(this.keys));
    for (const [code, sample] of samples) {
      const { records, order } = rejectedSampleKeys(this.keys, code);
      keys.push(records, order);
      args.push(code, sample.length, ...sample.flat());
    }
    await this.redis.eval(REMEMBER, keys.length, ...keys, ...args);
  }
}
