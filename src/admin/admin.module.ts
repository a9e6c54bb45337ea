import { Module } from '@nestjs/common';
import { DeliveryModule } from '../delivery/delivery.module.js';
import { EngageController } from '../engage/engage.controller.js';
import { EngageModule } from '../engage/engage.module.js';
import { AdminGuard } from '../platform/http/admin.guard.js';
import { IngestModule } from '../ingest/ingest.module.js';
import { TraceModule } from '../trace/trace.module.js';
import { DeadLetterController } from './dead-letter.controller.js';
import { DeadLetterService } from './dead-letter.service.js';
import { EventLookup } from './event-lookup.js';
import { OpsController } from './ops.controller.js';
import { QueueDashboard } from './queue-dashboard.js';

/** Every admin endpoint (behind ADMIN_TOKEN): dead letters, event lookup and preview, Engage audiences, the queue dashboard. */
@Module({
  imports: [DeliveryModule, EngageModule, IngestModule, TraceModule],
  controllers: [DeadLetterController, OpsController, EngageController],
  providers: [DeadLetterService, EventLookup, AdminGuard, QueueDashboard],
})
export class AdminModule {}
