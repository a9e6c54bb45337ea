import { Module } from '@nestjs/common';
import { DeliveryWorkerModule } from './delivery/delivery-worker.module.js';
import { EngageSyncModule } from './engage/engage.module.js';
import { HealthModule } from './health/health.module.js';
import { MetricsModule } from './platform/metrics/metrics.module.js';

/** What a worker process runs (SERVICE_ROLE worker or all): the delivery worker and the audience sync; health and metrics. No ingest. */
@Module({
  imports: [DeliveryWorkerModule, EngageSyncModule, HealthModule, MetricsModule],
})
export class WorkerModule {}
