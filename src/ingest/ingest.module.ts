import { Module } from '@nestjs/common';
import { DeliveryModule } from '../delivery/delivery.module.js';
import { EngageModule } from '../engage/engage.module.js';
import { TraceModule } from '../trace/trace.module.js';
import { BacklogGate } from './backlog.gate.js';
import { DedupStore } from './dedup.store.js';
import { IngestController } from './ingest.controller.js';
import { IngestService } from './ingest.service.js';

/** Segment in: the Tracking API endpoints, deduplication and the backlog gate, in front of the delivery queue and Engage. */
@Module({
  imports: [DeliveryModule, EngageModule, TraceModule],
  controllers: [IngestController],
  providers: [IngestService, DedupStore, BacklogGate],
  exports: [DedupStore],
})
export class IngestModule {}
