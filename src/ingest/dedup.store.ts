import { Inject, Injectable } from '@nestjs/common';
import type { Redis } from 'ioredis';
import type { AppConfig } from '../config/config.js';
import { APP_CONFIG } from '../config/config.module.js';
import { backlogKey } from '../kable/backlog.counter.js';
import { traceKey } from '../ops/event-trace.js';
import { REDIS, RedisKeys } from '../redis/redis.module.js';

/**
 * KEYS: the backlog counter, the dedup keys, then the trace keys of the notes. ARGV: the dedup
 * window, the trace window, the backlog increment, the number of runs R, then R triples (number of
 * dedup keys, their value, the job index of the first of them) in KEYS order, then one record per
 * note. Each dedup key's value is its run's value, "/", and its index in the job.
 */
const REMEMBER = `
if tonumber(ARGV[3]) > 0 then redis.call('INCRBY', KEYS[1], ARGV[3]) end
local runs = tonumber(ARGV[4])
local k = 2
for r = 1, runs do
  local count = tonumber(ARGV[2 + 3 * r])
  local value = ARGV[3 + 3 * r] .. '/'
  local start = tonumber(ARGV[4 + 3 * r])
  for i = k, k + count - 1 do redis.call('SET', KEYS[i], value .. (start + i - k), 'PX', ARGV[1]) end
  k = k + count
end
local note = 5 + 3 * runs
for i = k, #KEYS do redis.call('SET', KEYS[i], ARGV[note + i - k], 'PX', ARGV[2], 'NX') end
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
   * Marks the ids as accepted. Each run's `value` (`receivedValue`, src/ops/event-trace.ts) says
   * when its request was received and which job carries it, and `start` where its first event is
   * in that job (the others follow in order), for GET /v1/events/:messageId (a group commit stores
   * several requests, one run each). `notes` are trace records of skipped
   * and rejected messages, written in the same round trip, never over one that exists.
   * `backlogAdded` events are added to the backlog counter in the same command.
   */
  async remember(
    runs: Array<{ messageIds: string[]; value: string; start: number }>,
    notes: Array<[messageId: string, record: string]> = [],
    backlogAdded = 0,
  ): Promise<void> {
    const used = runs.filter((run) => run.messageIds.length > 0);
    if (used.length === 0 && notes.length === 0 && backlogAdded === 0) return;
    // One command for the whole request instead of one SET per message: ioredis's per-command
    // cost (objects, promises, encoding) was the largest single cost of batch ingest (BENCHMARKS.md).
    // The backlog counter (BacklogCounter) is counted in the same command: one round trip less.
    const keys = [backlogKey(this.keys)];
    const args: Array<string | number> = [this.config.dedupWindowMs, this.config.eventTraceWindowMs, backlogAdded, used.length];
    for (const run of used) {
      for (const id of run.messageIds) keys.push(this.key(id));
      args.push(run.messageIds.length, run.value, run.start);
    }
    for (const [id, record] of notes) {
      keys.push(traceKey(this.keys, id));
      args.push(record);
    }
    await this.redis.eval(REMEMBER, keys.length, ...keys, ...args);
  }
}
