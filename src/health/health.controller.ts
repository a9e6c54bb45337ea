import { InjectQueue } from '@nestjs/bullmq';
import { Controller, Get, Inject } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiServiceUnavailableResponse, ApiTags } from '@nestjs/swagger';
import { HealthCheck, HealthCheckService, HealthIndicatorService } from '@nestjs/terminus';
import type { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import type { AppConfig } from '../config/config.js';
import { APP_CONFIG } from '../config/config.module.js';
import { BacklogCounter } from '../kable/backlog.counter.js';
import { QUEUES } from '../kable/queues.js';
import { REDIS } from '../redis/redis.module.js';
import { withTimeout } from '../redis/with-timeout.js';

const CHECK_TIMEOUT_MS = 1000;

/**
 * `/health/live`: the process answers (restart it if not).
 * `/health/ready`: Redis answers and the delivery queue can be read (send traffic only then);
 * reports the backlog in jobs and in events, and BACKLOG_LIMIT (past it, ingest answers 503).
 * Uses the service's existing Redis connection.
 */
@ApiTags('operations')
@Controller('health')
export class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly indicators: HealthIndicatorService,
    @Inject(REDIS) private readonly redis: Redis,
    @InjectQueue(QUEUES.delivery) private readonly queue: Queue,
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
        redis: { status: 'up', latencyMs: 0.4 },
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
      return indicator.up({ latencyMs: Math.round((performance.now() - started) * 10) / 10 });
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
        this.queue.getJobCounts('waiting', 'active', 'delayed', 'prioritized', 'failed'),
        CHECK_TIMEOUT_MS,
        () => new Error(`no answer within ${CHECK_TIMEOUT_MS} ms`),
      );
      const backlogJobs = counts.waiting + counts.active + counts.delayed + counts.prioritized;
      const backlogEvents = await this.backlog.measure();
      const backlogLimit = this.config.backlogLimit;
      return indicator.up({ backlogEvents, backlogLimit, overLimit: backlogEvents >= backlogLimit, backlogJobs, ...counts });
    } catch (error) {
      return indicator.down({ message: (error as Error).message });
    }
  }
}
