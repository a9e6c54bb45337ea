import { Module } from '@nestjs/common';
import { BacklogCounter } from './backlog.counter.js';
import { DeadLetterStore } from './dead-letter.store.js';
import { DeliveryQueues } from './delivery-queues.js';
import { DeliveryProducer } from './delivery.producer.js';

/** The delivery queue as its producers see it: the shards' queues, their producer, the backlog counter and the dead-letter store. */
@Module({
  providers: [DeliveryQueues, DeliveryProducer, DeadLetterStore, BacklogCounter],
  exports: [DeliveryQueues, DeliveryProducer, DeadLetterStore, BacklogCounter],
})
export class DeliveryModule {}
