import { BullModule } from '@nestjs/bullmq';
import { type DynamicModule, Module, type Type } from '@nestjs/common';
import type { DestinationStream } from 'pino';
import { ApiModule } from './api.module.js';
import type { AppConfig } from './platform/config/config.js';
import { AppConfigModule } from './platform/config/config.module.js';
import { loggerModule } from './platform/logging/logging.js';
import { REDIS, type RedisClient, RedisKeys, RedisModule } from './platform/redis/redis.module.js';
import { WorkerModule } from './worker.module.js';

/** SERVICE_ROLE, decided here and nowhere else: the modules this process runs. Replicas of each role share one Redis. */
export function roleModules(role: AppConfig['role']): Type[] {
  switch (role) {
    case 'api':
      return [ApiModule];
    case 'worker':
      return [WorkerModule];
    case 'all':
      return [ApiModule, WorkerModule];
  }
}

@Module({})
export class AppModule {
  static forRoot(config: AppConfig, log: { stream?: DestinationStream; silent?: boolean } = {}): DynamicModule {
    return {
      module: AppModule,
      imports: [
        AppConfigModule.forRoot(config),
        loggerModule(config, log),
        RedisModule,
        BullModule.forRootAsync({
          inject: [REDIS, RedisKeys],
          // Queues share the fail-fast connection; workers open their own. Registered queues (Engage's) are not sharded.
          useFactory: (redis: RedisClient, keys: RedisKeys) => ({ connection: redis, prefix: keys.bullPrefix(0) }),
        }),
        ...roleModules(config.role),
      ],
    };
  }
}
