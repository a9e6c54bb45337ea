import { Inject, Injectable, Logger } from '@nestjs/common';
import type { AppConfig } from '../platform/config/config.js';
import { APP_CONFIG } from '../platform/config/config.module.js';
import { REDIS, type RedisClient } from '../platform/redis/redis.module.js';
import { BacklogCounter } from './backlog.counter.js';
import { DeliveryQueues, type JobRef } from './delivery-queues.js';
import { encodeJobData } from './job-data.js';
import type { KableEvent } from '../segment/kable-event.js';
import { type DeliverJobData, JOBS } from './queues.js';

/** How long a write may wait for its replicas (WAIT) before ingest answers 503; well inside ingest's store timeout. */
export const REPLICA_ACK_TIMEOUT_MS = 1000;

/** Fewer replicas than REDIS_MIN_REPLICAS_ACK acknowledged a job in time (the job itself is queued). */
export class ReplicasBehindError extends Error {}

/** Whether an error (or the error it was made from) is a ReplicasBehindError: ingest wraps it, keeping its message. */
export function isReplicasBehind(error: unknown): boolean {
  return error instanceof Error && error.message.includes(REPLICAS_BEHIND);
}

const REPLICAS_BEHIND = 'replicas REDIS_MIN_REPLICAS_ACK asks for';

/** The one place that puts events on the delivery queue. Job options are the queues' defaults (delivery-queues.ts). */
@Injectable()
export class DeliveryProducer {
  private readonly logger = new Logger('DeliveryProducer');

  constructor(
    private readonly queues: DeliveryQueues,
    private readonly backlog: BacklogCounter,
    @Inject(REDIS) private readonly redis: RedisClient,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  /** Queues the events as one job and adds them to the backlog. Resolves with where the job is once Redis has it. */
  async enqueue(events: KableEvent[], source: DeliverJobData['source']): Promise<JobRef | undefined> {
    const job = await this.enqueueUncounted(events, source, this.queues.nextShard());
    if (!job) return undefined;
    // The job is stored: failing now would only make the sender retry it. BacklogCounter heals a missed count.
    await this.backlog
      .add(job.shard, events.length)
      .catch((error: Error) => this.logger.warn(`could not count the backlog: ${error.message}`));
    return job;
  }

  /** The shard the next job should go to (shards take turns). */
  nextShard(): number {
    return this.queues.nextShard();
  }

  /**
   * Queues the events as one job on `shard` without counting them, for a caller that adds them to
   * the backlog in its own Redis command (ingest, with its dedup entries: BacklogCounter.addInScript).
   */
  async enqueueUncounted(events: KableEvent[], source: DeliverJobData['source'], shard: number): Promise<JobRef | undefined> {
    if (events.length === 0) return undefined;
    const job = await this.queues.at(shard).add(JOBS.deliver, encodeJobData(events, source));
    if (job.id === undefined) throw new Error('BullMQ gave the job no id');
    await this.replicated();
    return { shard, id: job.id };
  }

  /**
   * With REDIS_MIN_REPLICAS_ACK=N, waits until N replicas have every write this connection made
   * (the job just added among them), so that a failover to one of them loses nothing answered 200.
   * Throws when they do not answer in time: the caller answers 503 and the sender retries (the job
   * may then be queued twice, with the same transactionIds, which Kable discards).
   */
  private async replicated(): Promise<void> {
    const wanted = this.config.redis.minReplicasAck;
    if (wanted === 0) return;
    const acked = await this.redis.wait(wanted, REPLICA_ACK_TIMEOUT_MS);
    if (acked < wanted) {
      throw new ReplicasBehindError(
        `only ${acked} of the ${wanted} ${REPLICAS_BEHIND} acknowledged the write within ${REPLICA_ACK_TIMEOUT_MS} ms`,
      );
    }
  }

  /** A job's state and attempts (the event lookup); undefined once removed. State first, so a job finishing meanwhile shows its final attempts. */
  async jobState(ref: JobRef): Promise<{ state: string; attemptsMade: number } | undefined> {
    const queue = this.queues.at(ref.shard);
    const state = await queue.getJobState(ref.id);
    const job = state === 'unknown' ? undefined : await queue.getJob(ref.id);
    return job ? { state, attemptsMade: job.attemptsMade } : undefined;
  }
}
