import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { randomBytes } from 'node:crypto';
import type { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { createApp } from '../../src/app.setup.js';
import { DeliveryQueues } from '../../src/delivery/delivery-queues.js';
import type { DeliverJobData } from '../../src/delivery/queues.js';
import { type AppConfig, loadConfig } from '../../src/platform/config/config.js';
import { RedisKeys } from '../../src/platform/redis/keys.js';
import { KableEmulator } from '../../tools/kable-emulator.js';
import { waitFor } from './wait.js';

export const WRITE_KEY = 'wk_test_1234567890';
export const KABLE_API_KEY = 'sk_test.secret-api-key-0123456789';
export const KABLE_CLIENT_ID = 'kci_test_client';
export const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

export interface Harness {
  app: NestFastifyApplication;
  url: string;
  kable: KableEmulator;
  /** The settings, with `raw`: the environment they were read from (to boot a second instance). */
  config: AppConfig & { raw: Record<string, string> };
  redis: Redis;
  prefix: string;
  /** The service's key scheme (RedisKeys): `key(...)` names a key of shard 0, where every unsharded record lives. */
  keys: RedisKeys;
  key(...parts: string[]): string;
  /** The delivery queue of a shard (0 unless REDIS_SHARDS is set). */
  deliveryQueue(shard?: number): Queue<DeliverJobData>;
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
    REDIS_URL,
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
  const redis = new Redis(REDIS_URL);
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
    async close({ keepKeys = false } = {}) {
      await app.close();
      if (ownsKable) await kable.stop();
      if (!keepKeys) await deleteKeys(redis, prefix);
      redis.disconnect();
    },
  };
}

export async function deleteKeys(redis: Redis, prefix: string): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
    cursor = next;
    if (keys.length > 0) await redis.del(...keys);
  } while (cursor !== '0');
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
