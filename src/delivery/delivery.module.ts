import { BullModule } from '@nestjs/bullmq';
import { type DynamicModule, Module } from '@nestjs/common';
import type { AppConfig } from '../platform/config/config.js';
import { BacklogCounter } from './backlog.counter.js';
import { DeadLetterStore } from './dead-letter.store.js';
import { DeliveryProducer } from './delivery.producer.js';
import { KableDeliveryWorker } from './delivery.worker.js';
import { BACKOFF_TYPE, DELIVERY_ATTEMPTS, QUEUES } from './queues.js';

/** The delivery queue, its producer and (when this process runs the worker) the delivery worker. */
@Module({})
export class KableModule {
  static forRoot(config: AppConfig): DynamicModule {
    const runsWorker = config.role !== 'api';
    return {
      module: KableModule,
      global: true,
      imports: [
        BullModule.registerQueue({
          name: QUEUES.delivery,
          defaultJobOptions: {
            attempts: DELIVERY_ATTEMPTS,
            backoff: { type: BACKOFF_TYPE },
            // Completed jobs are kept an hour (for the dashboard), failed ones for the dead-letter retention.
            removeOnComplete: { age: 3600, count: 10_000 },
            removeOnFail: { age: Math.round(config.deadLetterRetentionMs / 1000) },
          },
        }),
      ],
      providers: [DeliveryProducer, DeadLetterStore, BacklogCounter, ...(runsWorker ? [KableDeliveryWorker] : [])],
      exports: [DeliveryProducer, DeadLetterStore, BacklogCounter, BullModule],
    };
  }
}
