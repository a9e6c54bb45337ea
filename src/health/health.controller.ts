import { InjectQueue } from '@nestjs/bullmq';
import { Controller, Get, Inject } from '@nestjs/common';
import { HealthCheck, HealthCheckService, HealthIndicatorService } from '@nestjs/terminus';
import type { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import type { AppConfig } from '../config/config.js';
import { APP_CONFIG } from '../config/config.module.js';
import { BacklogCounter } from '../kable/backlog.counter.js';
import { QUEUES } from '../kable/queues.js';
import { REDIS } from '../redis/redis.module.js';

/**
 * `/health/live`: the process answers (restart it if not).
 * `/health/ready`: Redis answers and the delivery queue can be read (send traffic only then);
 * reports the backlog in jobs and in events, and BACKLOG_LIMIT (past it, ingest answers 503).
 * Uses the service's existing Redis connection.
 */
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
  live() {
    return this.health.check([]);
  }

  @Get('ready')
  @HealthCheck()
  ready() {
    return this.health.check([() => this.checkRedis(), () => this.checkQueue()]);
  }

  private async checkRedis() {
    const indicator = this.indicators.check('redis');
    try {
      const started = performance.now();
      await this.redis.ping();
      return indicator.up({ latencyMs: Math.round((performance.now() - started) * 10) / 10 });
    } catch (error) {
      return indicator.down({ message: (error as Error).message });
    }
  }

  private async checkQueue() {
    const indicator = this.indicators.check('deliveryQueue');
    try {
      const counts = await this.queue.getJobCounts('waiting', 'active', 'delayed', 'prioritized', 'failed');
      const backlogJobs = counts.waiting + counts.active + counts.delayed + counts.prioritized;
      const backlogEvents = await this.backlog.measure();
      const backlogLimit = this.config.backlogLimit;
      return indicator.up({ backlogEvents, backlogLimit, overLimit: backlogEvents >= backlogLimit, backlogJobs, ...counts });
    } catch (error) {
      return indicator.down({ message: (error as Error).message });
    }
  }
}
