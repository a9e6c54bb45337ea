import { InjectQueue } from '@nestjs/bullmq';
import { Injectable, Logger } from '@nestjs/common';
import type { Queue } from 'bullmq';
import { BacklogCounter } from './backlog.counter.js';
import { encodeJobData } from './job-data.js';
import type { KableEvent } from '../segment/kable-event.js';
import { type DeliverJobData, JOBS, QUEUES } from './queues.js';

/** The one place that puts events on the delivery queue. Job options are the queue's defaults (delivery.module.ts). */
@Injectable()
export class DeliveryProducer {
  private readonly logger = new Logger('DeliveryProducer');

  constructor(
    @InjectQueue(QUEUES.delivery) private readonly queue: Queue<DeliverJobData>,
    private readonly backlog: BacklogCounter,
  ) {
    // RedisModule already logs the shared connection's errors; without a listener BullMQ prints each again.
    this.queue.on('error', () => undefined);
  }

  /** Queues the events as one job and adds them to the backlog. Resolves with the job's id once Redis has it. */
  async enqueue(events: KableEvent[], source: DeliverJobData['source']): Promise<string | undefined> {
    if (events.length === 0) return undefined;
    const jobId = await this.enqueueUncounted(events, source);
    // The job is stored: failing now would only make the sender retry it. BacklogCounter heals a missed count.
    await this.backlog.add(events.length).catch((error: Error) => this.logger.warn(`could not count the backlog: ${error.message}`));
    return jobId;
  }

  /**
   * Queues the events as one job without counting them, for a caller that adds them to the backlog
   * in its own Redis command (ingest, with its dedup keys: BacklogCounter.addInScript).
   */
  async enqueueUncounted(events: KableEvent[], source: DeliverJobData['source']): Promise<string | undefined> {
    if (events.length === 0) return undefined;
    const job = await this.queue.add(JOBS.deliver, encodeJobData(events, source));
    return job.id;
  }

  /** A job's state and attempts (the event lookup); undefined once removed. State first, so a job finishing meanwhile shows its final attempts. */
  async jobState(id: string): Promise<{ state: string; attemptsMade: number } | undefined> {
    const state = await this.queue.getJobState(id);
    const job = state === 'unknown' ? undefined : await this.queue.getJob(id);
    return job ? { state, attemptsMade: job.attemptsMade } : undefined;
  }
}
