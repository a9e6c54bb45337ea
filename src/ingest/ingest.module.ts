import { Module } from '@nestjs/common';
import { BacklogGate } from './backlog.gate.js';
import { DedupStore } from './dedup.store.js';
import { IngestController } from './ingest.controller.js';
import { IngestService } from './ingest.service.js';

@Module({
  controllers: [IngestController],
  providers: [IngestService, DedupStore, BacklogGate],
})
export class IngestModule {}
