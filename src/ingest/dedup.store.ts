import { Inject, Injectable } from '@nestjs/common';
import type { Redis } from 'ioredis';
import type { AppConfig } from '../config/config.js';
import { APP_CONFIG } from '../config/config.module.js';
import { REDIS, RedisKeys } from '../redis/redis.module.js';

/** SET key 1 PX <window> for every key. */
const REMEMBER = `for _, key in ipairs(KEYS) do redis.call('SET', key, '1', 'PX', ARGV[1]) end`;

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

  async remember(messageIds: string[]): Promise<void> {
    if (messageIds.length === 0) return;
    // One command for the whole request instead of one SET per message: ioredis's per-command
    // cost (objects, promises, encoding) was the largest single cost of batch ingest.
    await this.redis.eval(REMEMBER, messageIds.length, ...messageIds.map((id) => this.key(id)), this.config.dedupWindowMs);
  }
}
