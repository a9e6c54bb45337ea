import { Module } from '@nestjs/common';
import { TerminusModule } from '@nestjs/terminus';
import { DeliveryModule } from '../delivery/delivery.module.js';
import { EngageModule } from '../engage/engage.module.js';
import { HealthController } from './health.controller.js';
import { QueueDepthCollector } from './queue-depth.collector.js';

/** Health probes and the queue-depth metrics, over the queues of both roles. */
@Module({
  imports: [TerminusModule.forRoot({ logger: false }), DeliveryModule, EngageModule],
  controllers: [HealthController],
  providers: [QueueDepthCollector],
})
export class HealthModule {}
