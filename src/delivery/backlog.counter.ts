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

/** The counter's key. Ingest adds to it in its dedup command (DedupStore.remember), the rest through `added`. */
export function backlogKey(keys: RedisKeys): string {
  return keys.key('backlog', 'events');
}

/**
 * The number of events waiting for Kable (queued, active or waiting for a retry), kept as one
 * Redis counter: the producer adds the events of each job it queues, the worker subtracts the
 * events Kable answered for (delivered or dead-lettered). Reading it costs one GET, whatever the
 * backlog, which a count over the jobs' data would not.
 *
 * A crash between two steps can leave the counter off by one job's events. It heals itself: each
 * `measure()` that finds the queue empty resets a non-zero counter to 0 (compare-and-set, so
 * events counted meanwhile are kept).
 */
@Injectable()
export class BacklogCounter {
  private readonly key: string;

  constructor(
    @Inject(REDIS) private readonly redis: Redis,
    @InjectQueue(QUEUES.delivery) private readonly queue: Queue,
    keys: RedisKeys,
    metrics: MetricsService,
  ) {
    this.key = backlogKey(keys);
    const measure = () => this.measure();
    new Gauge({
      name: 'kable_backlog_events',
      help: 'Events waiting for Kable (queued, in flight or waiting for a retry); ingest answers 503 past BACKLOG_LIMIT',
      registers: [metrics.registry],
      async collect() {
        // Redis down: NaN rather than a failed scrape.
        this.set(await measure().catch(() => NaN));
      },
    });
  }

  async added(events: number): Promise<void> {
    if (events > 0) await this.redis.incrby(this.key, events);
  }

  async done(events: number): Promise<void> {
    if (events > 0) await this.redis.decrby(this.key, events);
  }

  /** The backlog in events, healed when the queue is empty. */
  async measure(): Promise<number> {
    const raw = (await this.redis.get(this.key)) ?? '0';
    const value = Number(raw);
    if (value === 0) return 0;
    const counts = await this.queue.getJobCounts('waiting', 'active', 'delayed', 'prioritized', 'waiting-children');
    if (Object.values(counts).every((n) => n === 0)) {
      // The queue is empty either way; if Redis refuses the write (out of memory), a later measure heals it.
      await this.redis.eval(RESET_IF_UNCHANGED, 1, this.key, raw).catch((error: unknown) => {
        if (!isOutOfMemory(error)) throw error;
      });
      return 0;
    }
    return Math.max(0, value);
  }
}
