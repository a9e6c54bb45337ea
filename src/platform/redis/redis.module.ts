import { Global, Inject, Injectable, Logger, Module, type OnApplicationShutdown } from '@nestjs/common';
import type { AppConfig } from '../config/config.js';
import { APP_CONFIG } from '../config/config.module.js';
import { connectRedis, type RedisClient } from './connection.js';
import { RedisKeys } from './keys.js';

export { RedisKeys } from './keys.js';
export type { RedisClient } from './connection.js';

export const REDIS = Symbol('REDIS');

@Injectable()
class RedisCloser implements OnApplicationShutdown {
  constructor(@Inject(REDIS) private readonly redis: RedisClient) {}
  async onApplicationShutdown(): Promise<void> {
    await this.redis.quit().catch(() => this.redis.disconnect());
  }
}

/** Says which Redis this process uses, once at boot; never the URL (it may hold a password). */
function describe(redis: AppConfig['redis']): string {
  const tls = redis.tls ? ', TLS' : '';
  switch (redis.topology.kind) {
    case 'cluster':
      return `Redis Cluster through ${redis.topology.nodes.length} seed node(s)${tls}, ${redis.shards} shard(s)`;
    case 'sentinel':
      return `Redis primary "${redis.topology.name}" through ${redis.topology.sentinels.length} Sentinel(s)${tls}`;
    case 'single':
      return `one Redis (REDIS_URL)${tls}`;
  }
}

/** Global: one connection and one key scheme per process, used by every record owner. */
@Global()
@Module({
  providers: [
    {
      provide: REDIS,
      inject: [APP_CONFIG],
      useFactory: async (config: AppConfig) => {
        const logger = new Logger('Redis');
        logger.log(`using ${describe(config.redis)}`);
        if (config.redis.urlIgnored) {
          logger.warn(
            `REDIS_URL is ignored: ${config.redis.topology.kind === 'cluster' ? 'REDIS_CLUSTER_NODES' : 'REDIS_SENTINELS'} decides the topology`,
          );
        }
        const redis = connectRedis(config.redis, 'command');
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
