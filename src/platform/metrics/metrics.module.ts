import { Controller, Get, Global, Header, Module } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiProduces, ApiTags } from '@nestjs/swagger';
import { MetricsService } from './metrics.service.js';
import { RedisMemoryCollector } from './redis-memory.collector.js';

@ApiTags('operations')
@Controller('metrics')
class MetricsController {
  constructor(private readonly metrics: MetricsService) {}

  @Get()
  @ApiOperation({ summary: 'Prometheus metrics (text exposition format, no auth)' })
  @ApiProduces('text/plain')
  @ApiOkResponse({ schema: { type: 'string', example: 'kable_events_delivered_total 1200\n' } })
  @Header('content-type', 'text/plain; version=0.0.4; charset=utf-8')
  scrape(): Promise<string> {
    return this.metrics.registry.metrics();
  }
}

/** Global: one registry per process, which every layer counts into. */
@Global()
@Module({
  controllers: [MetricsController],
  providers: [MetricsService, RedisMemoryCollector],
  exports: [MetricsService],
})
export class MetricsModule {}
