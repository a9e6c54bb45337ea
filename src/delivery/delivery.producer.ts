import { Injectable, Logger } from '@nestjs/common';
import { BacklogCounter } from './backlog.counter.js';
import { DeliveryQueues, type JobRef } from './delivery-queues.js';
import { encodeJobData } from './job-data.js';
import type { KableEvent } from '../segment/kable-event.js';
import { type DeliverJobData, JOBS } from './queues.js';

/** The one place that puts events on the delivery queue. Job options are the queues' defaults (delivery-queues.ts). */
@Injectable()
export class DeliveryProducer {
  private readonly logger = new Logger('DeliveryProducer');

  constructor(
    private readonly queues: DeliveryQueues,
    private readonly backlog: BacklogCounter,
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
    return { shard, id: job.id };
  }

  /** A job's state and attempts (the event lookup); undefined once removed. State first, so a job finishing meanwhile shows its final attempts. */
  async jobState(ref: JobRef): Promise<{ state: string; attemptsMade: number } | undefined> {
    const queue = this.queues.at(ref.shard);
    const state = await queue.getJobState(ref.id);
    const job = state === 'unknown' ? undefined : await queue.getJob(ref.id);
    return job ? { state, attemptsMade: job.attemptsMade } : undefined;
  }
}
