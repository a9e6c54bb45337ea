import type { ConnectionOptions } from 'node:tls';
import { Cluster, type ClusterOptions, Redis, type RedisOptions } from 'ioredis';
import type { AppConfig } from '../config/config.js';

/** A connection to whichever topology the settings name: one Redis or Sentinel (`Redis`), or a Redis Cluster. */
export type RedisClient = Redis | Cluster;

/**
 * `command`: the shared connection, which fails fast so ingest answers 503 at once when Redis is
 * down, and reconnects by itself. `worker`: a BullMQ worker's, which waits for Redis forever
 * (BullMQ requires maxRetriesPerRequest: null for its blocking commands).
 */
export type ConnectionPurpose = 'command' | 'worker';

const RETRY = (times: number) => Math.min(times * 200, 2000);

function purposeOptions(purpose: ConnectionPurpose): RedisOptions {
  return purpose === 'command'
    ? { maxRetriesPerRequest: 1, commandTimeout: 2000, connectTimeout: 2000 }
    : { maxRetriesPerRequest: null, connectTimeout: 5000 };
}

/** What every connection of every topology shares: credentials and TLS. */
function authAndTls(redis: AppConfig['redis']): RedisOptions {
  const options: RedisOptions = {};
  if (redis.username !== undefined) options.username = redis.username;
  if (redis.password !== undefined) options.password = redis.password;
  if (redis.tls) options.tls = tlsOptions(redis);
  return options;
}

function tlsOptions(redis: AppConfig['redis']): ConnectionOptions {
  return redis.tlsCa === undefined ? {} : { ca: redis.tlsCa };
}

/** The ioredis options of one connection to a single Redis or through Sentinel; a cluster's are `clusterOptions`. */
export function redisOptions(redis: AppConfig['redis'], purpose: ConnectionPurpose): RedisOptions {
  const options: RedisOptions = {
    ...purposeOptions(purpose),
    ...authAndTls(redis),
    enableOfflineQueue: purpose === 'worker',
    retryStrategy: RETRY,
  };
  if (redis.topology.kind === 'sentinel') {
    Object.assign(options, {
      sentinels: redis.topology.sentinels,
      name: redis.topology.name,
      // No failoverDetector: in ioredis 5 it can end a connection that is reconnecting during the
      // failover (for good), and its subscriptions outlive quit(). A killed or demoted primary
      // closes our sockets, which is what makes ioredis ask the Sentinels again.
      sentinelRetryStrategy: RETRY,
      ...(redis.tls ? { enableTLSForSentinelMode: true, sentinelTLS: tlsOptions(redis) } : {}),
    } satisfies RedisOptions);
  }
  return options;
}

export function clusterOptions(redis: AppConfig['redis'], purpose: ConnectionPurpose): ClusterOptions {
  const { enableOfflineQueue: _offline, retryStrategy: _retry, ...perNode } = redisOptions(redis, purpose);
  return {
    redisOptions: perNode,
    enableOfflineQueue: purpose === 'worker',
    clusterRetryStrategy: RETRY,
    slotsRefreshTimeout: 2000,
    // TLS certificates name hosts: keep the seed's host name rather than the address a node announces.
    ...(redis.tls ? { dnsLookup: (address, done) => done(null, address) } : {}),
  };
}

/** Opens a connection of the configured topology (REDIS_URL, REDIS_CLUSTER_NODES or REDIS_SENTINELS). */
export function connectRedis(redis: AppConfig['redis'], purpose: ConnectionPurpose): RedisClient {
  switch (redis.topology.kind) {
    case 'cluster':
      return new Cluster(redis.topology.nodes, clusterOptions(redis, purpose));
    case 'sentinel':
      return new Redis(redisOptions(redis, purpose));
    case 'single':
      return new Redis(redis.topology.url, redisOptions(redis, purpose));
  }
}

/** The primaries to read server-wide figures from (INFO): every master of a cluster, else the one connection. */
export function primaries(client: RedisClient): Redis[] {
  return client instanceof Cluster ? client.nodes('master') : [client];
}
