import { Global, Inject, Injectable, Logger, Module, type OnApplicationShutdown } from '@nestjs/common';
import { Redis, type RedisOptions } from 'ioredis';
import type { AppConfig } from '../config/config.js';
import { APP_CONFIG } from '../config/config.module.js';

/** The shared connection fails fast, so ingest answers 503 at once when Redis is down; it reconnects by itself. */
export function commandConnectionOptions(): RedisOptions {
  return {
    maxRetriesPerRequest: 1,
    enableOfflineQueue: false,
    commandTimeout: 2000,
    connectTimeout: 2000,
    retryStrategy: (times) => Math.min(times * 200, 2000),
  };
}

/** Worker connections wait for Redis forever (BullMQ requires maxRetriesPerRequest: null for blocking commands). */
export function workerConnectionOptions(): RedisOptions {
  return { maxRetriesPerRequest: null, retryStrategy: (times) => Math.min(times * 200, 2000) };
}

export const REDIS = Symbol('REDIS');

@Injectable()
export class RedisKeys {
  constructor(@Inject(APP_CONFIG) private readonly config: AppConfig) {}
  /** Every key this service writes starts with the configured prefix (REDIS_PREFIX). */
  key(...parts: string[]): string {
    return [this.config.redis.prefix, ...parts].join(':');
  }
}

@Injectable()
class RedisCloser implements OnApplicationShutdown {
  constructor(@Inject(REDIS) private readonly redis: Redis) {}
  async onApplicationShutdown(): Promise<void> {
    await this.redis.quit().catch(() => this.redis.disconnect());
  }
}

/** Global: one connection and one key prefix per process, used by every record owner. */
@Global()
@Module({
  providers: [
    {
      provide: REDIS,
      inject: [APP_CONFIG],
      useFactory: async (config: AppConfig) => {
        const redis = new Redis(config.redis.url, commandConnectionOptions());
        const logger = new Logger('Redis');
        let lastError = '';
        redis.on('error', (error: Error) => {
          if (error.message !== lastError) logger.error(`Redis connection error: ${error.message}`);
          lastError = error.message;
        });
        redis.on('ready', () => {
          if (lastError) logger.log('Redis connection restored');
          lastError = '';
        });
        // Start even if Redis is down: the service reconnects by itself and /health/ready says so.
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, 3000);
          redis.once('ready', () => {
            clearTimeout(timer);
            resolve();
          });
        });
        return redis;
      },
    },
    RedisKeys,
    RedisCloser,
  ],
  exports: [REDIS, RedisKeys],
})
export class RedisModule {}
