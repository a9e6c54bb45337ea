import { Inject, Injectable } from '@nestjs/common';
import { Gauge } from 'prom-client';
import { MetricsService } from '../platform/metrics/metrics.service.js';
import { isOutOfMemory } from '../platform/redis/redis-memory.js';
import { REDIS, type RedisClient, RedisKeys } from '../platform/redis/redis.module.js';
import { DeliveryQueues } from './delivery-queues.js';

// Resets the counter to 0 only if it still holds the value read before the queue was seen empty.
const RESET_IF_UNCHANGED = `if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('SET', KEYS[1], '0') return 1 end return 0`;

const BACKLOG_STATES = ['waiting', 'active', 'delayed', 'prioritized', 'waiting-children'] as const;

/**
 * The number of events waiting for Kable (queued, active or waiting for a retry): one Redis counter
 * per shard, beside its queue, so that reading it costs one GET per shard whatever the backlog.
 * Every job queued adds its events to its shard's counter, the worker removes those Kable answered
 * for (delivered or dead-lettered). A crash between two steps can leave a counter off by one job's
 * events: `read()` resets a shard's counter when it finds that shard's queue empty.
 */
@Injectable()
export class BacklogCounter {
  constructor(
    @Inject(REDIS) private readonly redis: RedisClient,
    private readonly queues: DeliveryQueues,
    private readonly keys: RedisKeys,
    metrics: MetricsService,
  ) {
    const read = () => this.read();
    new Gauge({
      name: 'kable_backlog_events',
      help: 'Events waiting for Kable (queued, in flight or waiting for a retry); ingest answers 503 past BACKLOG_LIMIT',
      registers: [metrics.registry],
      async collect() {
        // Redis down: NaN rather than a failed scrape.
        this.set(await read().catch(() => NaN));
      },
    });
  }

  /**
   * Lua that adds `events` to the counter at `key`, for a script that must count in the same
   * command as its own writes (ingest's dedup keys); pass `key(shard)` as that KEYS entry.
   */
  static addInScript(key: string, events: string): string {
    return `if tonumber(${events}) > 0 then redis.call('INCRBY', ${key}, ${events}) end`;
  }

  /** The counter of a shard, for a script using `addInScript` (it is in the shard's slot). */
  key(shard: number): string {
    return this.keys.shardKey(shard, 'backlog', 'events');
  }

  async add(shard: number, events: number): Promise<void> {
    if (events > 0) await this.redis.incrby(this.key(shard), events);
  }

  async remove(shard: number, events: number): Promise<void> {
    if (events > 0) await this.redis.decrby(this.key(shard), events);
  }

  /** The backlog in events over all shards, each healed when its queue is empty. */
  async read(): Promise<number> {
    const backlogs = await Promise.all(this.keys.all().map((shard) => this.readShard(shard)));
    return backlogs.reduce((sum, n) => sum + n, 0);
  }

  private async readShard(shard: number): Promise<number> {
    const key = this.key(shard);
    const raw = (await this.redis.get(key)) ?? '0';
    const value = Number(raw);
    if (value === 0) return 0;
    const counts = await this.queues.at(shard).getJobCounts(...BACKLOG_STATES);
    if (Object.values(counts).every((n) => n === 0)) {
      // The queue is empty either way; if Redis refuses the write (out of memory), a later read heals it.
      await this.redis.eval(RESET_IF_UNCHANGED, 1, key, raw).catch((error: unknown) => {
        if (!isOutOfMemory(error)) throw error;
      });
      return 0;
    }
    return Math.max(0, value);
  }
}
