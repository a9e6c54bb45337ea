import { InjectQueue } from '@nestjs/bullmq';
import { Injectable, Logger, type OnModuleInit } from '@nestjs/common';
import type { Queue } from 'bullmq';
import { QUEUES } from '../kable/queues.js';
import { MetricsService } from './metrics.service.js';

export const QUEUE_STATES = ['waiting', 'active', 'delayed', 'prioritized', 'failed', 'completed'] as const;

/**
 * Fills `bullmq_queue_jobs{queue,state}` when Prometheus scrapes: one `getJobCounts` per queue
 * over the API's existing Redis connection, nothing in between. If Redis does not answer, the
 * series keep their last values and the scrape still succeeds (alert on `up` and on Redis).
 * Engage's queue joins here once it exists.
 */
@Injectable()
export class QueueDepthCollector implements OnModuleInit {
  private readonly logger = new Logger('Metrics');

  constructor(
    private readonly metrics: MetricsService,
    @InjectQueue(QUEUES.delivery) private readonly delivery: Queue,
  ) {}

  onModuleInit(): void {
    const queues = [this.delivery];
    const gauge = this.metrics.queueJobs;
    // prom-client awaits an async collect() on every registry.metrics() call.
    (gauge as unknown as { collect: () => Promise<void> }).collect = async () => {
      await Promise.all(
        queues.map(async (queue) => {
          try {
            const counts = await queue.getJobCounts(...QUEUE_STATES);
            for (const state of QUEUE_STATES) gauge.set({ queue: queue.name, state }, counts[state] ?? 0);
          } catch (error) {
            this.logger.warn(`could not read the depth of queue ${queue.name}: ${(error as Error).message}`);
          }
        }),
      );
    };
  }
}
