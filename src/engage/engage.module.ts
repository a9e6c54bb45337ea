import { BullModule } from '@nestjs/bullmq';
import { type DynamicModule, Module } from '@nestjs/common';
import type { AppConfig } from '../platform/config/config.js';
import { EngageSyncWorker } from './engage-sync.worker.js';
import { EngageController } from './engage.controller.js';
import { EngageMetrics } from './engage.metrics.js';
import { ENGAGE_JOB_OPTIONS, ENGAGE_QUEUE } from './engage.queues.js';
import { EngageService } from './engage.service.js';

/** Engage audiences: membership state (used by ingest), the admin API, and the scheduled sync worker. */
@Module({})
export class EngageModule {
  static forRoot(config: AppConfig): DynamicModule {
    const runsApi = config.role !== 'worker';
    const runsWorker = config.role !== 'api';
    return {
      module: EngageModule,
      global: true,
      imports: [BullModule.registerQueue({ name: ENGAGE_QUEUE, defaultJobOptions: ENGAGE_JOB_OPTIONS })],
      controllers: runsApi ? [EngageController] : [],
      providers: [EngageService, EngageMetrics, ...(runsWorker ? [EngageSyncWorker] : [])],
      exports: [EngageService, BullModule],
    };
  }
}
