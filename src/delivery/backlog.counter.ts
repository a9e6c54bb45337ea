import { InjectQueue } from '@nestjs/bullmq';
import { Inject, Injectable } from '@nestjs/common';
import type { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { Gauge } from 'prom-client';
import { MetricsService } from '../platform/metrics/metrics.service.js';
import { isOutOfMemory } from '../platform/redis/redis-memory.js';
import { REDIS, RedisKeys } from '../platform/redis/redis.module.js';
import { QUEUES } from './queues.js';

// Resets the counter to 0 only if it still holds the value read before the queue was seen empty.
const RESET_IF_UNCHANGED = `if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('SET', KEYS[1], '0') return 1 end return 0`;

/**
 * The number of events waiting for Kable (queued, active or waiting for a retry), one Redis counter
 * so that reading it costs one GET whatever the backlog. Every job queued adds its events, the
 * worker removes those Kable answered for (delivered or dead-lettered). A crash between two steps
 * can leave it off by one job's events: `read()` resets it when it finds the queue empty.
 */
@Injectable()
export class BacklogCounter {
  private readonly counterKey: string;

  constructor(
    @Inject(REDIS) private readonly redis: Redis,
    @InjectQueue(QUEUES.delivery) private readonly queue: Queue,
    keys: RedisKeys,
    metrics: MetricsService,
  ) {
    this.counterKey = keys.key('backlog', 'events');
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
   * command as its own writes (ingest's dedup keys); pass `key()` as that KEYS entry.
   */
  static addInScript(key: string, events: string): string {
    return `if tonumber(${events}) > 0 then redis.call('INCRBY', ${key}, ${events}) end`;
  }

  /** The counter's Redis key, for a script using `addInScript`. */
  key(): string {
    return this.counterKey;
  }

  async add(events: number): Promise<void> {
    if (events > 0) await this.redis.incrby(this.counterKey, events);
  }

  async remove(events: number): Promise<void> {
    if (events > 0) await this.redis.decrby(this.counterKey, events);
  }

  /** The backlog in events, healed when the queue is empty. */
  async read(): Promise<number> {
    const raw = (await this.redis.get(this.counterKey)) ?? '0';
    const value = Number(raw);
    if (value === 0) return 0;
    const counts = await this.queue.getJobCounts('waiting', 'active', 'delayed', 'prioritized', 'waiting-children');
    if (Object.values(counts).every((n) => n === 0)) {
      // The queue is empty either way; if Redis refuses the write (out of memory), a later read heals it.
      await this.redis.eval(RESET_IF_UNCHANGED, 1, this.counterKey, raw).catch((error: unknown) => {
        if (!isOutOfMemory(error)) throw error;
      });
      return 0;
    }
    return Math.max(0, value);
  }
}
