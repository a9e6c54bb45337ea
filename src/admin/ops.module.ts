import { type DynamicModule, Module } from '@nestjs/common';
import type { AppConfig } from '../platform/config/config.js';
import { AdminGuard } from '../platform/http/admin.guard.js';
import { EventTraceStore } from '../trace/event-trace.js';
import { OpsController } from './ops.controller.js';

/** Event traces (written by ingest and the delivery worker) and, where the API runs, the admin tools. */
@Module({})
export class OpsModule {
  static forRoot(config: AppConfig): DynamicModule {
    return {
      module: OpsModule,
      global: true,
      providers: [EventTraceStore, AdminGuard],
      exports: [EventTraceStore],
      controllers: config.role === 'worker' ? [] : [OpsController],
    };
  }
}
