import { BullModule } from '@nestjs/bullmq';
import { type DynamicModule, Module } from '@nestjs/common';
import type { Redis } from 'ioredis';
import type { DestinationStream } from 'pino';
import type { AppConfig } from './config/config.js';
import { AppConfigModule } from './config/config.module.js';
import { EngageModule } from './engage/engage.module.js';
import { HealthModule } from './health/health.module.js';
import { IngestModule } from './ingest/ingest.module.js';
import { DeadLetterModule } from './kable/dead-letter.module.js';
import { KableModule } from './kable/kable.module.js';
import { MetricsModule } from './metrics/metrics.module.js';
import { loggerModule } from './ops/logging.js';
import { OpsModule } from './ops/ops.module.js';
import { REDIS, RedisModule } from './redis/redis.module.js';

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
