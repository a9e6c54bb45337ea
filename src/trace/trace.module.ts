import { Module } from '@nestjs/common';
import { EventTraceStore } from './event-trace.js';

/** The event trace records: written by ingest and the delivery worker, read by the admin event lookup. */
@Module({
  providers: [EventTraceStore],
  exports: [EventTraceStore],
})
export class TraceModule {}
