import { Inject, Injectable, Logger, type OnModuleInit } from '@nestjs/common';
import { readRedisMemory } from '../redis/redis-memory.js';
import { REDIS, type RedisClient } from '../redis/redis.module.js';
import { withTimeout } from '../redis/with-timeout.js';
import { MetricsService } from './metrics.service.js';

/** Redis memory, read on scrape (one `INFO memory`): every deduplication key lives there, so alert on it before Redis is full. */
@Injectable()
export class RedisMemoryCollector implements OnModuleInit {
  private readonly logger = new Logger('Metrics');

  constructor(
    private readonly metrics: MetricsService,
    @Inject(REDIS) private readonly redis: RedisClient,
  ) {}

  onModuleInit(): void {
    const { redisMemoryUsed, redisMemoryMax } = this.metrics;
    // prom-client collects the metrics of a scrape concurrently: both gauges share one read.
    let reading: Promise<void> | undefined;
    const collect = () =>
      (reading ??= withTimeout(readRedisMemory(this.redis), 1000, () => new Error('no answer within 1000 ms'))
        .then((memory) => {
          redisMemoryUsed.set(memory.usedBytes);
          redisMemoryMax.set(memory.maxBytes);
        })
        .catch((error: Error) => this.logger.warn(`could not read Redis's memory: ${error.message}`))
        .finally(() => (reading = undefined)));
    for (const gauge of [redisMemoryUsed, redisMemoryMax]) (gauge as unknown as { collect: () => Promise<void> }).collect = collect;
  }
}
