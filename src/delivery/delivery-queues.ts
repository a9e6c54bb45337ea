import { Inject, Injectable, type OnApplicationShutdown } from '@nestjs/common';
import { type JobType, Queue } from 'bullmq';
import type { AppConfig } from '../platform/config/config.js';
import { APP_CONFIG } from '../platform/config/config.module.js';
import { REDIS, type RedisClient, RedisKeys } from '../platform/redis/redis.module.js';

export { formatJobRef, type JobRef, parseJobRef } from '../platform/redis/keys.js';
import { BACKOFF_TYPE, DELIVERY_ATTEMPTS, type DeliverJobData, QUEUES } from './queues.js';

/**
 * Completed jobs kept per shard, for the dashboard (their events are already in the trace). Each holds
 * its events' data: 100 jobs of a few hundred events were 31 B per delivered event in bench scenario 8.
 */
export const COMPLETED_KEPT = 10;

/**
 * The delivery queue, one BullMQ queue per shard (REDIS_SHARDS), each under its shard's hash tag
 * so that on a Redis Cluster each queue's keys sit in one slot and the queues spread over the
 * masters. Producers take turns between the shards; each worker process takes jobs from all of them.
 */
@Injectable()
export class DeliveryQueues implements OnApplicationShutdown {
  readonly queues: ReadonlyArray<Queue<DeliverJobData>>;
  private turn = 0;

  constructor(@Inject(REDIS) redis: RedisClient, keys: RedisKeys, @Inject(APP_CONFIG) config: AppConfig) {
    this.queues = keys.all().map(
      (shard) =>
        new Queue<DeliverJobData>(QUEUES.delivery, {
          connection: redis,
          prefix: keys.bullPrefix(shard),
          defaultJobOptions: {
            attempts: DELIVERY_ATTEMPTS,
            backoff: { type: BACKOFF_TYPE },
            // The trace says where each delivered event went; the few completed jobs kept are for the dashboard.
            removeOnComplete: { age: 3600, count: COMPLETED_KEPT },
            removeOnFail: { age: Math.round(config.deadLetterRetentionMs / 1000) },
          },
        }),
    );
    // RedisModule already logs the shared connection's errors; without a listener BullMQ prints each again.
    for (const queue of this.queues) queue.on('error', () => undefined);
  }

  /** The shard the next job goes to. */
  nextShard(): number {
    this.turn = (this.turn + 1) % this.queues.length;
    return this.turn;
  }

  at(shard: number): Queue<DeliverJobData> {
    const queue = this.queues[shard];
    if (!queue) throw new Error(`no delivery queue for shard ${shard}`);
    return queue;
  }

  /** Job counts summed over the shards. */
  async counts<S extends JobType>(...states: S[]): Promise<Record<S, number>> {
    const all = await Promise.all(this.queues.map((queue) => queue.getJobCounts(...states)));
    const sum = Object.fromEntries(states.map((state) => [state, 0])) as Record<S, number>;
    for (const counts of all) for (const state of states) sum[state] += counts[state] ?? 0;
    return sum;
  }

  async onApplicationShutdown(): Promise<void> {
    await Promise.all(this.queues.map((queue) => queue.close()));
  }
}
