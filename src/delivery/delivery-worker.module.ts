import { Module } from '@nestjs/common';
import { TraceModule } from '../trace/trace.module.js';
import { DeliveryModule } from './delivery.module.js';
import { KableDeliveryWorker } from './delivery.worker.js';

/** The delivery worker (worker role): takes jobs off the delivery queue, delivers them to Kable, records the outcome. */
@Module({
  imports: [DeliveryModule, TraceModule],
  providers: [KableDeliveryWorker],
})
export class DeliveryWorkerModule {}
