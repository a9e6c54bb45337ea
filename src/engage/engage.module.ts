import { BullModule } from '@nestjs/bullmq';
import { Module } from '@nestjs/common';
import { DeliveryModule } from '../delivery/delivery.module.js';
import { EngageSyncWorker } from './engage-sync.worker.js';
import { EngageMetrics } from './engage.metrics.js';
import { ENGAGE_JOB_OPTIONS, ENGAGE_QUEUE } from './engage.queues.js';
import { EngageService } from './engage.service.js';

/** Engage audiences: membership state (recorded by ingest) and the sync queue. Its admin API is served by AdminModule. */
@Module({
  imports: [DeliveryModule, BullModule.registerQueue({ name: ENGAGE_QUEUE, defaultJobOptions: ENGAGE_JOB_OPTIONS })],
  providers: [EngageService, EngageMetrics],
  exports: [EngageService, BullModule],
})
export class EngageModule {}

/** The scheduled audience sync (worker role). */
@Module({
  imports: [EngageModule],
  providers: [EngageSyncWorker],
})
export class EngageSyncModule {}
