import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { randomBytes } from 'node:crypto';
import type { JobType, Queue } from 'bullmq';
import { Cluster, Redis } from 'ioredis';
import { createApp } from '../../src/app.setup.js';
import { DeliveryQueues } from '../../src/delivery/delivery-queues.js';
import { type DeliverJobData, QUEUES } from '../../src/delivery/queues.js';
import { type AppConfig, loadConfig } from '../../src/platform/config/config.js';
import { clusterOptions } from '../../src/platform/redis/connection.js';
import { RedisKeys } from '../../src/platform/redis/keys.js';
import { KableEmulator } from '../../tools/kable-emulator.js';
import { waitFor } from './wait.js';

export const WRITE_KEY = 'wk_test_1234567890';
export const KABLE_API_KEY = 'sk_test.secret-api-key-0123456789';
export const KABLE_CLIENT_ID = 'kci_test_client';
export const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
/**
 * The seed nodes of the Redis Cluster the whole e2e run uses, set by test/support/cluster-setup.mjs
 * when the run has TEST_REDIS_CLUSTER=1 (`npm run test:e2e:cluster`); unset on a single Redis.
 */
export const TEST_CLUSTER_NODES = process.env.TEST_REDIS_CLUSTER_NODES || undefined;

/** A client of one Redis or of a Redis Cluster, whichever the run uses. */
export type TestRedis = Redis | Cluster;

/** The service's Redis settings in this run: REDIS_CLUSTER_NODES on the cluster, else REDIS_URL (for services a test runs itself). */
export function redisEnv(): Record<string, string> {
  return TEST_CLUSTER_NODES ? { REDIS_CLUSTER_NODES: TEST_CLUSTER_NODES } : { REDIS_URL };
}

/** A client of this run's Redis (a Cluster client on the cluster); the caller disconnects it. */
export function connectTestRedis(): TestRedis {
  return TEST_CLUSTER_NODES
    ? clusterClient(loadConfig({ ...redisEnv(), KABLE_API_KEY, KABLE_CLIENT_ID, SEGMENT_WRITE_KEYS: WRITE_KEY }).redis)
    : new Redis(REDIS_URL);
}

/** A Cluster client with the service's own cluster settings (seeds, TLS, user), but one that queues commands until it is ready. */
function clusterClient(redis: AppConfig['redis']): Cluster {
  if (redis.topology.kind !== 'cluster') throw new Error(`not a cluster: ${redis.topology.kind}`);
  const options = clusterOptions(redis, 'worker');
  // maxRetriesPerRequest null (a worker's) would wait forever for a node that is down: a test should fail instead.
  const cluster = new Cluster(redis.topology.nodes, { ...options, redisOptions: { ...options.redisOptions, maxRetriesPerRequest: 3 } });
  cluster.on('error', () => undefined); // failures surface as rejected commands
  return cluster;
}

export interface Harness {
  app: NestFastifyApplication;
  url: string;
  kable: KableEmulator;
  /** The settings, with `raw`: the environment they were read from (to boot a second instance). */
  config: AppConfig & { raw: Record<string, string> };
  /** This harness's Redis: a Cluster client when the service runs on a cluster (REDIS_CLUSTER_NODES). */
  redis: TestRedis;
  prefix: string;
  /** The service's key scheme (RedisKeys): `key(...)` names a key of shard 0, where every unsharded record lives. */
  keys: RedisKeys;
  key(...parts: string[]): string;
  /** The delivery queue of a shard (0 unless REDIS_SHARDS is set). */
  deliveryQueue(shard?: number): Queue<DeliverJobData>;
  /** The delivery queues as the dashboard names them: `kable-delivery`, or `<shard>.kable-delivery` for each of several shards. */
  dashboardQueueNames(): string[];
  /** Jobs in the delivery queues, every state, summed over the shards. */
  jobTotal(): Promise<number>;
  /** Keys matching a SCAN pattern, from every master on a cluster (KEYS and SCAN ask one node only). */
  keysMatching(pattern: string): Promise<string[]>;
  /** Delivery jobs created so far, summed over the shards (BullMQ's id counter per shard's queue). */
  jobsCreated(): Promise<number>;
  /** The backlog counters (events waiting for Kable) as stored, summed over the shards. */
  backlogEvents(): Promise<number>;
  /** Delivery job counts by state, summed over the shards' queues. */
  jobCounts<S extends JobType>(...states: S[]): Promise<Record<S, number>>;
  /** Stops the app (and the emulator, unless it was passed in); `keepKeys` leaves Redis as it is, for a restart. */
  close(options?: { keepKeys?: boolean }): Promise<void>;
}

export interface HarnessOptions {
  /** Reuse this Redis prefix (a restart of a previous harness). */
  prefix?: string;
  /** Reuse this running emulator; close() leaves it running. */
  kable?: KableEmulator;
  /** Capture the service's log lines (pino JSON) here; logs are off otherwise. */
  logStream?: { write(line: string): void };
}

/** A unique Redis key prefix per test run, so tests never see each other's keys. */
export function testPrefix(): string {
  return `t${randomBytes(4).toString('hex')}`;
}

/**
 * Boots the real service (Fastify, BullMQ, a real Redis) against a fresh Kable emulator.
 * `env` overrides settings; every key written is under a unique prefix and removed by close().
 * It runs on this run's Redis (redisEnv(): the cluster with TEST_REDIS_CLUSTER=1) unless `env`
 * names a Redis of its own (REDIS_URL, REDIS_CLUSTER_NODES or REDIS_SENTINELS).
 * Logs are off unless `logStream` is given. nestjs-pino builds its pino-http once per module
 * registry (per test file), so a file that captures logs passes `logStream` to its first harness.
 */
export async function startHarness(env: Record<string, string> = {}, options: HarnessOptions = {}): Promise<Harness> {
  const ownsKable = options.kable === undefined;
  const kable = options.kable ?? new KableEmulator({ clientId: KABLE_CLIENT_ID, apiKey: KABLE_API_KEY });
  const kableUrl = ownsKable ? await kable.start() : kable.url;
  const prefix = options.prefix ?? testPrefix();
  const raw: Record<string, string> = {
    KABLE_API_KEY,
    KABLE_CLIENT_ID,
    KABLE_BASE_URL: kableUrl,
    SEGMENT_WRITE_KEYS: `${WRITE_KEY},wk_other`,
    ...runRedis(env),
    REDIS_PREFIX: prefix,
    KABLE_FLUSH_INTERVAL: '100ms',
    KABLE_REQUEST_TIMEOUT: '2s',
    KABLE_RETRY_MAX_DELAY: '300ms',
    LOG_LEVEL: 'error',
    ...env,
  };
  const config = Object.assign(loadConfig(raw), { raw });
  const app = await createApp(config, options.logStream ? { logStream: options.logStream } : { logger: false });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const address = app.getHttpServer().address() as { port: number };
  const redis = config.redis.topology.kind === 'cluster' ? clusterClient(config.redis) : new Redis(REDIS_URL);
  const keys = new RedisKeys(config);
  return {
    app,
    url: `http://127.0.0.1:${address.port}`,
    kable,
    config,
    redis,
    prefix,
    keys,
    key: (...parts) => keys.key(...parts),
    deliveryQueue: (shard = 0) => app.get(DeliveryQueues).at(shard),
    keysMatching: (pattern) => keysMatching(redis, pattern),
    dashboardQueueNames: () => keys.all().map((shard) => (keys.shards > 1 ? `${shard}.${QUEUES.delivery}` : QUEUES.delivery)),
    async jobTotal() {
      const counts = await Promise.all(app.get(DeliveryQueues).queues.map((queue) => queue.getJobCounts()));
      return counts.flatMap((c) => Object.values(c)).reduce((sum, n) => sum + n, 0);
    },
    jobCounts: (...states) => app.get(DeliveryQueues).counts(...states),
    backlogEvents: () => sumOverShards(keys, redis, 'backlog', 'events'),
    jobsCreated: () => sumOverShards(keys, redis, QUEUES.delivery, 'id'),
    async close({ keepKeys = false } = {}) {
      await app.close();
      if (ownsKable) await kable.stop();
      if (!keepKeys) await deleteKeys(redis, prefix);
      redis.disconnect();
    },
  };
}

/** The sum of a numeric key that each shard has (`<shard prefix>:<parts>`), unset counting 0. */
async function sumOverShards(keys: RedisKeys, redis: TestRedis, ...parts: string[]): Promise<number> {
  const values = await Promise.all(keys.all().map((shard) => redis.get(keys.shardKey(shard, ...parts))));
  return values.reduce((sum, value) => sum + Number(value ?? 0), 0);
}

/**
 * The run's Redis settings unless `env` names a Redis of its own (REDIS_URL of a Redis that is down,
 * say, or a cluster or Sentinels the test started): only one topology, as a deployment would set it.
 */
function runRedis(env: Record<string, string>): Record<string, string> {
  const ownRedis = ['REDIS_URL', 'REDIS_CLUSTER_NODES', 'REDIS_SENTINELS'].some((name) => env[name] !== undefined);
  return ownRedis ? {} : redisEnv();
}

/** The servers holding data: each master of a cluster (once it knows them), else the one connection. */
async function dataNodes(redis: TestRedis): Promise<Redis[]> {
  if (!(redis instanceof Cluster)) return [redis];
  if (redis.status !== 'ready') {
    await new Promise<void>((resolveReady, reject) => {
      const timer = setTimeout(() => reject(new Error(`Cluster client not ready within 10 s (status ${redis.status})`)), 10_000);
      redis.once('ready', () => {
        clearTimeout(timer);
        resolveReady();
      });
    });
  }
  return redis.nodes('master');
}

/** Every key matching a SCAN pattern, on every master of a cluster. */
export async function keysMatching(redis: TestRedis, pattern: string): Promise<string[]> {
  const found: string[] = [];
  for (const node of await dataNodes(redis)) {
    let cursor = '0';
    do {
      const [next, keys] = await node.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
      cursor = next;
      found.push(...keys);
    } while (cursor !== '0');
  }
  return found;
}

/** Deletes every key under `prefix`, on every master of a cluster (one key per UNLINK: keys of other slots cannot share one). */
export async function deleteKeys(redis: TestRedis, prefix: string): Promise<void> {
  for (const node of await dataNodes(redis)) {
    let cursor = '0';
    do {
      const [next, keys] = await node.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length > 0) await Promise.all(keys.map((key) => node.unlink(key)));
    } while (cursor !== '0');
  }
}

export function basicAuth(writeKey = WRITE_KEY): string {
  return `Basic ${Buffer.from(`${writeKey}:`).toString('base64')}`;
}

export function track(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    type: 'track',
    event: 'API Call',
    userId: 'customer_1',
    messageId: `msg-${randomBytes(6).toString('hex')}`,
    timestamp: '2022-01-09T09:32:01Z',
    properties: { endpoint: '/v1/things', objectCount: 1 },
    ...overrides,
  };
}

/** What GET /health/ready says of the delivery queue. */
interface DeliveryQueueHealth {
  backlogJobs?: number;
  backlogEvents?: number;
}

/**
 * Waits until the service's delivery queue is drained (GET /health/ready: no job waiting, active
 * or delayed, and a backlog of 0 events). Ingest answers 200 only once its job is in the queue,
 * so afterwards every accepted event has reached Kable or the dead letters: nothing more will arrive.
 */
export async function waitForDrained(service: { url: string }, timeoutMs = 15_000): Promise<void> {
  await waitFor(
    async () => {
      const res = await fetch(`${service.url}/health/ready`);
      const body = (await res.json()) as { details?: { deliveryQueue?: DeliveryQueueHealth } };
      return { status: res.status, queue: body.details?.deliveryQueue };
    },
    ({ status, queue }) => status === 200 && queue?.backlogJobs === 0 && queue.backlogEvents === 0,
    timeoutMs,
  );
}
