import { InjectQueue } from '@nestjs/bullmq';
import { Injectable } from '@nestjs/common';
import type { Queue } from 'bullmq';
import type { KableEvent } from './kable-event.js';
import { type DeliverJobData, JOBS, QUEUES } from './queues.js';

/** The one place that puts events on the delivery queue. Job options are the queue's defaults (kable.module.ts). */
@Injectable()
export class DeliveryProducer {
  constructor(@InjectQueue(QUEUES.delivery) private readonly queue: Queue<DeliverJobData>) {}

  /** Resolves with the job's id once the job is stored in Redis; rejects if Redis cannot take it. */
  async enqueue(events: KableEvent[], source: DeliverJobData['source']): Promise<string | undefined> {
    if (events.length === 0) return undefined;
    const job = await this.queue.add(JOBS.deliver, { events, source });
    return job.id;
  }
}
