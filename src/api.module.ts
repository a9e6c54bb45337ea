import { Module } from '@nestjs/common';
import { AdminModule } from './admin/admin.module.js';
import { HealthModule } from './health/health.module.js';
import { IngestModule } from './ingest/ingest.module.js';
import { MetricsModule } from './platform/metrics/metrics.module.js';

/** What an API process runs (SERVICE_ROLE api or all): ingest and the admin API, producing onto the queues; health and metrics. */
@Module({
  imports: [IngestModule, AdminModule, HealthModule, MetricsModule],
})
export class ApiModule {}
