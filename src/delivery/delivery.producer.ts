import { InjectQueue } from '@nestjs/bullmq';
import { Injectable, Logger } from '@nestjs/common';
import type { Queue } from 'bullmq';
import { BacklogCounter } from './backlog.counter.js';
import { encodeJobData } from './job-data.js';
import type { KableEvent } from '../segment/kable-event.js';
import { type DeliverJobData, JOBS, QUEUES } from './queues.js';

/** The one place that puts events on the delivery queue. Job options are the queue's defaults (kable.module.ts). */
@Injectable()
export class DeliveryProducer {
  private readonly logger = new Logger('DeliveryProducer');

  constructor(
    @InjectQueue(QUEUES.delivery) private readonly queue: Queue<DeliverJobData>,
    private readonly backlog: BacklogCounter,
  ) {
    // The queue shares the API's Redis connection, whose errors RedisModule already logs (once per
    // distinct error); without a listener BullMQ would print each one again.
    this.queue.on('error', () => undefined);
  }

  /**
   * Resolves with the job's id once the job is stored in Redis; rejects if Redis cannot take it.
   * The events are added to the backlog counter unless `countBacklog` is false (ingest counts them
   * in its dedup command, which saves a round trip).
   */
  async enqueue(events: KableEvent[], source: DeliverJobData['source'], countBacklog = true): Promise<string | undefined> {
    if (events.length === 0) return undefined;
    const job = await this.queue.add(JOBS.deliver, encodeJobData(events, source));
    if (!countBacklog) return job.id;
    // The job is stored: failing the request now would only make the sender retry it. A missed
    // count is healed once the queue is empty (BacklogCounter).
    await this.backlog.added(events.length).catch((error: Error) => this.logger.warn(`could not count the backlog: ${error.message}`));
    return job.id;
  }
}
