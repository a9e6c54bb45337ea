import { InjectQueue } from '@nestjs/bullmq';
import { Injectable, Logger, type OnModuleInit } from '@nestjs/common';
import type { Queue } from 'bullmq';
import { ENGAGE_QUEUE } from '../engage/engage.queues.js';
import { DeliveryQueues } from '../delivery/delivery-queues.js';
import { QUEUES } from '../delivery/queues.js';
import { withTimeout } from '../platform/redis/with-timeout.js';
import { MetricsService } from '../platform/metrics/metrics.service.js';

export const QUEUE_STATES = ['waiting', 'active', 'delayed', 'prioritized', 'failed', 'completed'] as const;

/** `bullmq_queue_jobs{queue,state}`, read on scrape; if Redis does not answer the series keep their last values and the scrape succeeds. */
@Injectable()
export class QueueDepthCollector implements OnModuleInit {
  private readonly logger = new Logger('Metrics');

  constructor(
    private readonly metrics: MetricsService,
    private readonly delivery: DeliveryQueues,
    @InjectQueue(ENGAGE_QUEUE) private readonly engage: Queue,
  ) {}

  onModuleInit(): void {
    // The delivery queue's shards are summed: one series per queue and state, whatever REDIS_SHARDS.
    const queues: Array<{ name: string; counts: () => Promise<Record<string, number>> }> = [
      { name: QUEUES.delivery, counts: () => this.delivery.counts(...QUEUE_STATES) },
      { name: this.engage.name, counts: () => this.engage.getJobCounts(...QUEUE_STATES) },
    ];
    const gauge = this.metrics.queueJobs;
    // prom-client awaits an async collect() on every registry.metrics() call.
    (gauge as unknown as { collect: () => Promise<void> }).collect = async () => {
      await Promise.all(
        queues.map(async (queue) => {
          try {
            // BullMQ waits for a Redis that is down; a scrape must answer anyway.
            const counts = await withTimeout(queue.counts(), 1000, () => new Error('no answer within 1000 ms'));
            for (const state of QUEUE_STATES) gauge.set({ queue: queue.name, state }, counts[state] ?? 0);
          } catch (error) {
            this.logger.warn(`could not read the depth of queue ${queue.name}: ${(error as Error).message}`);
          }
        }),
      );
    };
  }
}
