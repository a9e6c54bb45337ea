import { Controller, Get, Global, Header, Module } from '@nestjs/common';
import { MetricsService } from './metrics.service.js';
import { QueueDepthCollector } from './queue-depth.collector.js';

@Controller('metrics')
class MetricsController {
  constructor(private readonly metrics: MetricsService) {}

  @Get()
  @Header('content-type', 'text/plain; version=0.0.4; charset=utf-8')
  scrape(): Promise<string> {
    return this.metrics.registry.metrics();
  }
}

@Global()
@Module({ controllers: [MetricsController], providers: [MetricsService, QueueDepthCollector], exports: [MetricsService] })
export class MetricsModule {}
