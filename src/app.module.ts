import { BullModule } from '@nestjs/bullmq';
import { type DynamicModule, Module } from '@nestjs/common';
import type { Redis } from 'ioredis';
import type { DestinationStream } from 'pino';
import type { AppConfig } from './platform/config/config.js';
import { AppConfigModule } from './platform/config/config.module.js';
import { EngageModule } from './engage/engage.module.js';
import { HealthModule } from './health/health.module.js';
import { IngestModule } from './ingest/ingest.module.js';
import { DeadLetterModule } from './admin/dead-letter.module.js';
import { KableModule } from './delivery/delivery.module.js';
import { MetricsModule } from './platform/metrics/metrics.module.js';
import { loggerModule } from './platform/logging/logging.js';
import { OpsModule } from './admin/ops.module.js';
import { REDIS, RedisModule } from './platform/redis/redis.module.js';

/**
 * SERVICE_ROLE decides what runs here: `all` (API + worker, the default), `api` (ingest and admin
 * only) or `worker` (delivery only, plus health and metrics). Replicas of each share one Redis.
 */
@Module({})
export class AppModule {
  static forRoot(config: AppConfig, log: { stream?: DestinationStream; silent?: boolean } = {}): DynamicModule {
    const runsApi = config.role !== 'worker';
    return {
      module: AppModule,
      imports: [
        AppConfigModule.forRoot(config),
        loggerModule(config, log),
        RedisModule,
        MetricsModule,
        BullModule.forRootAsync({
          inject: [REDIS],
          // Queues share the API's fail-fast connection; workers open their own (kable-delivery.worker.ts).
          useFactory: (redis: Redis) => ({ connection: redis, prefix: config.redis.prefix }),
        }),
        KableModule.forRoot(config),
        EngageModule.forRoot(config),
        HealthModule,
        OpsModule.forRoot(config),
        ...(runsApi ? [IngestModule, DeadLetterModule] : []),
      ],
    };
  }
}
