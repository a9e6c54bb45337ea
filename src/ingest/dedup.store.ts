import { Inject, Injectable } from '@nestjs/common';
import type { Redis } from 'ioredis';
import type { AppConfig } from '../config/config.js';
import { APP_CONFIG } from '../config/config.module.js';
import { backlogKey } from '../kable/backlog.counter.js';
import { traceKey } from '../ops/event-trace.js';
import { REDIS, RedisKeys } from '../redis/redis.module.js';

/**
 * KEYS: the backlog counter, the dedup keys, then the trace keys of the notes. ARGV: number of
 * dedup keys, their value, the dedup window, the trace window, the backlog increment, then one
 * record per note.
 */
const REMEMBER = `
local n = tonumber(ARGV[1])
if tonumber(ARGV[5]) > 0 then redis.call('INCRBY', KEYS[1], ARGV[5]) end
for i = 2, n + 1 do redis.call('SET', KEYS[i], ARGV[2], 'PX', ARGV[3]) end
for i = n + 2, #KEYS do redis.call('SET', KEYS[i], ARGV[i - n + 4], 'PX', ARGV[4], 'NX') end
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
   * Marks the ids as accepted; `value` (`receivedValue`, src/ops/event-trace.ts) says
   * when and in which job, for GET /v1/events/:messageId. `notes` are trace records of the
   * request's skipped and rejected messages, written in the same round trip, never over one
   * that exists. `backlogAdded` events are added to the backlog counter in the same command.
   */
  async remember(
    messageIds: string[],
    value = '1',
    notes: Array<[messageId: string, record: string]> = [],
    backlogAdded = 0,
  ): Promise<void> {
    if (messageIds.length === 0 && notes.length === 0 && backlogAdded === 0) return;
    // One command for the whole request instead of one SET per message: ioredis's per-command
    // cost (objects, promises, encoding) was the largest single cost of batch ingest (BENCHMARKS.md).
    // The backlog counter (BacklogCounter) is counted in the same command: one round trip less.
    const keys = [backlogKey(this.keys), ...messageIds.map((id) => this.key(id)), ...notes.map(([id]) => traceKey(this.keys, id))];
    await this.redis.eval(
      REMEMBER,
      keys.length,
      ...keys,
      messageIds.length,
      value,
      this.config.dedupWindowMs,
      this.config.eventTraceWindowMs,
      backlogAdded,
      ...notes.map(([, record]) => record),
    );
  }
}
