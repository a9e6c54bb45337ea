import { Controller, Get, Inject } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiServiceUnavailableResponse, ApiTags } from '@nestjs/swagger';
import { HealthCheck, HealthCheckService, HealthIndicatorService } from '@nestjs/terminus';
import type { AppConfig } from '../platform/config/config.js';
import { APP_CONFIG } from '../platform/config/config.module.js';
import { BacklogCounter } from '../delivery/backlog.counter.js';
import { DeliveryQueues } from '../delivery/delivery-queues.js';
import { readRedisMemory } from '../platform/redis/redis-memory.js';
import { REDIS, type RedisClient } from '../platform/redis/redis.module.js';
import { withTimeout } from '../platform/redis/with-timeout.js';

const CHECK_TIMEOUT_MS = 1000;
const BACKLOG_STATES = ['waiting', 'active', 'delayed', 'prioritized'] as const;

/** Liveness (restart if it fails) and readiness (send traffic only then), over the existing Redis connection. */
@ApiTags('operations')
@Controller('health')
export class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly indicators: HealthIndicatorService,
    @Inject(REDIS) private readonly redis: RedisClient,
    private readonly queues: DeliveryQueues,
    private readonly backlog: BacklogCounter,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  @Get('live')
  @HealthCheck()
  @ApiOperation({ summary: 'Liveness: the process answers (no auth)' })
  @ApiOkResponse({ example: { status: 'ok', info: {}, error: {}, details: {} } })
  live() {
    return this.health.check([]);
  }

  @Get('ready')
  @HealthCheck()
  @ApiOperation({ summary: 'Readiness: Redis answers and the delivery queue can be read; reports the backlog (no auth)' })
  @ApiOkResponse({
    example: {
      status: 'ok',
      info: {
        redis: { status: 'up', latencyMs: 0.4, usedMemoryBytes: 52428800, maxMemoryBytes: 1073741824 },
        deliveryQueue: { status: 'up', backlogJobs: 0, waiting: 0, active: 0, delayed: 0, prioritized: 0, failed: 0 },
      },
    },
  })
  @ApiServiceUnavailableResponse({ description: 'Redis or the queue does not answer: send no traffic here' })
  ready() {
    return this.health.check([() => this.checkRedis(), () => this.checkQueue()]);
  }

  private async checkRedis() {
    const indicator = this.indicators.check('redis');
    try {
      const started = performance.now();
      await withTimeout(this.redis.ping(), CHECK_TIMEOUT_MS, () => new Error(`no answer within ${CHECK_TIMEOUT_MS} ms`));
      const latencyMs = Math.round((performance.now() - started) * 10) / 10;
      // Reported, not judged: a full Redis (used ≥ max > 0) makes ingest answer 503, but every
      // replica shares it, so taking them all out of rotation would not help (like BACKLOG_LIMIT).
      const memory = await withTimeout(readRedisMemory(this.redis), CHECK_TIMEOUT_MS, () => new Error('no answer')).catch(() => undefined);
      return indicator.up({ latencyMs, ...(memory && { usedMemoryBytes: memory.usedBytes, maxMemoryBytes: memory.maxBytes }) });
    } catch (error) {
      return indicator.down({ message: (error as Error).message });
    }
  }

  private async checkQueue() {
    const indicator = this.indicators.check('deliveryQueue');
    try {
      // BullMQ waits for a connection that is down; the probe must answer anyway.
      if (this.redis.status !== 'ready') throw new Error(`Redis is ${this.redis.status}`);
      const counts = await withTimeout(
        this.queues.counts(...BACKLOG_STATES, 'failed'),
        CHECK_TIMEOUT_MS,
        () => new Error(`no answer within ${CHECK_TIMEOUT_MS} ms`),
      );
      const backlogJobs = BACKLOG_STATES.reduce((sum, state) => sum + (counts[state] ?? 0), 0);
      const backlogEvents = await this.backlog.read();
      const backlogLimit = this.config.backlogLimit;
      return indicator.up({ backlogEvents, backlogLimit, overLimit: backlogEvents >= backlogLimit, backlogJobs, ...counts });
    } catch (error) {
      return indicator.down({ message: (error as Error).message });
    }
  }
}
