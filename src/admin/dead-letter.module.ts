import { Module } from '@nestjs/common';
import { AdminGuard } from '../platform/http/admin.guard.js';
import { DeadLetterController } from './dead-letter.controller.js';
import { DeadLetterService } from './dead-letter.service.js';

/** The dead-letter admin API. DeadLetterStore and DeliveryProducer come from the global KableModule. */
@Module({
  controllers: [DeadLetterController],
  providers: [DeadLetterService, AdminGuard],
})
export class DeadLetterModule {}
