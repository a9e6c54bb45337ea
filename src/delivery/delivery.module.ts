import { BullModule } from '@nestjs/bullmq';
import { Module } from '@nestjs/common';
import type { AppConfig } from '../platform/config/config.js';
import { APP_CONFIG } from '../platform/config/config.module.js';
import { BacklogCounter } from './backlog.counter.js';
import { DeadLetterStore } from './dead-letter.store.js';
import { DeliveryProducer } from './delivery.producer.js';
import { BACKOFF_TYPE, DELIVERY_ATTEMPTS, QUEUES } from './queues.js';

/** The delivery queue as its producers see it: the queue, its producer, the backlog counter and the dead-letter store. */
@Module({
  imports: [
    BullModule.registerQueueAsync({
      name: QUEUES.delivery,
      inject: [APP_CONFIG],
      useFactory: (config: AppConfig) => ({
        defaultJobOptions: {
          attempts: DELIVERY_ATTEMPTS,
          backoff: { type: BACKOFF_TYPE },
          // Completed jobs are kept an hour (for the dashboard), failed ones for the dead-letter retention.
          removeOnComplete: { age: 3600, count: 10_000 },
          removeOnFail: { age: Math.round(config.deadLetterRetentionMs / 1000) },
        },
      }),
    }),
  ],
  providers: [DeliveryProducer, DeadLetterStore, BacklogCounter],
  exports: [DeliveryProducer, DeadLetterStore, BacklogCounter, BullModule],
})
export class DeliveryModule {}
