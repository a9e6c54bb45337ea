import { Redis } from 'ioredis';
import request from 'supertest';
import { basicAuth, KABLE_API_KEY, KABLE_CLIENT_ID, testPrefix, track, waitForDrained, WRITE_KEY } from '../support/harness.js';
import { KableEmulator } from '../../tools/kable-emulator.js';
import { expectInvariant, formatTally, Ledger } from '../support/ledger.js';
import { ensureBuilt, RedisServer, ServiceProcess } from '../support/processes.js';
import { waitFor } from '../support/wait.js';

/**
 * Redis (the test's own redis-server, `noeviction`) runs out of memory under the running service:
 * `maxmemory` is set below what it uses, as when the deduplication keys of DEDUP_WINDOW outgrow it.
 */
describe('faults: Redis is out of memory', () => {
  let redis: RedisServer | undefined;
  let admin: Redis | undefined;
  let service: ServiceProcess | undefined;
  const kable = new KableEmulator({ clientId: KABLE_CLIENT_ID, apiKey: KABLE_API_KEY });

  beforeAll(() => ensureBuilt(), 120_000);
  afterEach(async () => {
    admin?.disconnect();
    await service?.stop();
    await redis?.destroy();
    await kable.stop();
    kable.reset();
  });

  it('ingest answers 503 saying Redis is full, health and metrics show it, and once Redis has room every accepted event reaches Kable once', async () => {
    redis = await RedisServer.start();
    admin = new Redis(redis.url);
    await kable.start();
    service = await ServiceProcess.start({
      KABLE_API_KEY,
      KABLE_CLIENT_ID,
      KABLE_BASE_URL: kable.url,
      SEGMENT_WRITE_KEYS: WRITE_KEY,
      REDIS_URL: redis.url,
      REDIS_PREFIX: testPrefix(),
      KABLE_FLUSH_INTERVAL: '50ms',
      KABLE_RETRY_MAX_DELAY: '300ms',
      LOG_LEVEL: 'warn',
    });
    const ledger = new Ledger();
    const before = await ledger.load(service.url, 200, { batchSize: 20 });
    expect(before.map((o) => o.status)).toEqual(Array(10).fill(200));
    await ledger.waitForAccepted(kable, 30_000);
    // More events, still on their way to a slow Kable when Redis fills up: the worker cannot mark
    // their jobs done until it has room again.
    kable.respondWith(() => ({ status: 200, delayMs: 500 }));
    const inFlight = await ledger.load(service.url, 100, { batchSize: 20 });
    expect(inFlight.map((o) => o.status)).toEqual(Array(5).fill(200));

    await admin.config('SET', 'maxmemory', '1');

    const refused = await request(service.url)
      .post('/v1/batch')
      .set('authorization', basicAuth())
      .send({ batch: [track({ messageId: 'refused-1' })] });
    expect(refused.status).toBe(503);
    expect(refused.headers['retry-after']).toBe('5');
    expect(refused.body.message).toBe(
      'the messages could not be stored (Redis is out of memory: it reached its maxmemory); nothing was accepted, retry later',
    );
    const whileFull = [];
    for (let i = 0; i < 10; i += 1) whileFull.push(await ledger.send(service.url, [ledger.message(), ledger.message()]));
    expect(whileFull.map((o) => o.status)).toEqual(Array(10).fill(503));

    // The log says why, once (not once per request), and what to do.
    const advice = service.output.filter((line) => line.includes('Redis is out of memory (maxmemory)'));
    expect(advice).toHaveLength(1);
    expect(advice[0]).toContain('give Redis more memory (maxmemory), or shorten DEDUP_WINDOW or lower BACKLOG_LIMIT');

    // Still ready (like BACKLOG_LIMIT: every replica shares Redis), with its memory in the answer.
    const health = await request(service.url).get('/health/ready');
    expect(health.status).toBe(200);
    expect(health.body.details.redis).toMatchObject({ status: 'up', maxMemoryBytes: 1 });
    expect(health.body.details.redis.usedMemoryBytes).toBeGreaterThan(1);
    expect(health.body.details.deliveryQueue).toMatchObject({ status: 'up' });
    const metrics = (await request(service.url).get('/metrics')).text;
    expect(metrics).toContain('redis_memory_max_bytes 1\n');
    expect(Number(/^redis_memory_used_bytes (\d+)$/m.exec(metrics)?.[1])).toBeGreaterThan(1);

    await admin.config('SET', 'maxmemory', '0');
    kable.respondWith(undefined);
    // Ingest takes events again without a restart.
    const { url } = service;
    await waitFor(
      () => ledger.send(url, [ledger.message()]),
      (after) => after.status === 200,
    );
    const more = await ledger.load(service.url, 100, { batchSize: 20 });
    expect(more.map((o) => o.status)).toEqual(Array(5).fill(200));

    await ledger.waitForAccepted(kable, 30_000);
    await waitForDrained(service);
    const tally = ledger.tally(kable);
    process.stdout.write(`${formatTally('redis-full', tally)}\n`);
    expectInvariant(tally);
    // Nothing answered 503 reached Kable.
    expect(tally.deliveredUnacknowledged).toBe(0);
    expect(kable.events.some((event) => event.transactionId === 'refused-1')).toBe(false);
  }, 120_000);
});
