import { Module } from '@nestjs/common';
import { DedupStore } from './dedup.store.js';
import { IngestController } from './ingest.controller.js';
import { IngestService } from './ingest.service.js';

@Module({
  controllers: [IngestController],
  providers: [IngestService, DedupStore],
})
export class IngestModule {}
