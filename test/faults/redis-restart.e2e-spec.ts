import { KABLE_API_KEY, KABLE_CLIENT_ID, testPrefix, waitForDrained, WRITE_KEY } from '../support/harness.js';
import { KableEmulator } from '../../tools/kable-emulator.js';
import { expectInvariant, formatTally, Ledger, type SendOutcome } from '../support/ledger.js';
import { ensureBuilt, RedisServer, ServiceProcess } from '../support/processes.js';
import { sleep, waitFor } from '../support/wait.js';

/**
 * Redis (a redis-server of the test's own, AOF fsynced on every write) is killed and restarted
 * under the running service (`node dist/main.js`, SERVICE_ROLE=all).
 */
describe('faults: Redis stops and comes back', () => {
  let redis: RedisServer | undefined;
  let service: ServiceProcess | undefined;
  const kable = new KableEmulator({ clientId: KABLE_CLIENT_ID, apiKey: KABLE_API_KEY });

  beforeAll(() => ensureBuilt(), 120_000);
  afterEach(async () => {
    await service?.stop();
    await redis?.destroy();
    await kable.stop();
    kable.reset();
  });

  it('events accepted before survive; while down ingest answers 503 fast, never 200; the service reconnects by itself', async () => {
    redis = await RedisServer.start();
    await kable.start();
    // Kable refuses for now, so the accepted events are still in Redis when it dies.
    kable.respondWith(() => ({ status: 503, body: { message: 'Service Unavailable' } }));
    service = await ServiceProcess.start({
      KABLE_API_KEY,
      KABLE_CLIENT_ID,
      KABLE_BASE_URL: kable.url,
      SEGMENT_WRITE_KEYS: WRITE_KEY,
      REDIS_URL: redis.url,
      REDIS_PREFIX: testPrefix(),
      KABLE_FLUSH_INTERVAL: '50ms',
      KABLE_REQUEST_TIMEOUT: '1s',
      KABLE_RETRY_MAX_DELAY: '300ms',
      LOG_LEVEL: 'error',
    });
    const ledger = new Ledger();
    const before = await ledger.load(service.url, 200, { batchSize: 20 });
    expect(before.map((o) => o.status)).toEqual(Array(10).fill(200));
    // Deliveries are being retried.
    await waitFor(
      () => kable.requests.length,
      (n) => n >= 3,
    );

    expect(kable.count).toBe(0); // all 200 accepted events exist only in Redis now

    await redis.stop('SIGKILL');
    const down: SendOutcome[] = [];
    for (let i = 0; i < 20; i += 1) {
      down.push(await ledger.send(service.url, [ledger.message()]));
      await sleep(50); // spreads the requests over the outage
    }
    const statuses = down.map((o) => o.status ?? o.error);
    const slowest = Math.max(...down.map((o) => o.ms));
    process.stdout.write(`[redis-restart] while Redis was down: ${JSON.stringify(statuses)}; slowest answer ${slowest} ms\n`);
    expect(statuses).toEqual(Array(20).fill(503));
    expect(slowest).toBeLessThan(1000);
    // The log says why, once for the 20 requests (at most one line per 10 s).
    expect(service.output.filter((line) => line.includes('ingest answers 503, the messages could not be stored: '))).toHaveLength(1);

    await redis.restart();
    kable.respondWith(undefined);
    const restartedAt = Date.now();
    // The service reconnects by itself: ingest answers 200 again without being restarted (the
    // deadline is generous; the time it took is reported, not asserted).
    const { url } = service;
    await waitFor(
      () => ledger.send(url, [ledger.message()]),
      (after) => after.status === 200,
      60_000,
    );
    const reconnectMs = Date.now() - restartedAt;
    const more = await ledger.load(service.url, 100, { batchSize: 20 });
    expect(more.map((o) => o.status)).toEqual(Array(5).fill(200));

    await ledger.waitForAccepted(kable, 30_000);
    await waitForDrained(service);
    const tally = ledger.tally(kable);
    process.stdout.write(
      `${formatTally('redis-restart', tally)}\n[redis-restart] ingest answered 200 again ${reconnectMs} ms after Redis restarted\n`,
    );
    expect(tally.accepted).toBe(200 + 1 + 100);
    expectInvariant(tally);
    // Nothing that was answered 503 reached Kable.
    expect(tally.deliveredUnacknowledged).toBe(0);
  }, 120_000);
  it('SIGTERM while Redis is down: the process still exits within its deadline, and nothing accepted is lost', async () => {
    redis = await RedisServer.start();
    await kable.start();
    let received = 0;
    kable.respondWith(() => {
      received += 1;
      return { status: 200, delayMs: 500 };
    });
    const env = {
      KABLE_API_KEY,
      KABLE_CLIENT_ID,
      KABLE_BASE_URL: kable.url,
      SEGMENT_WRITE_KEYS: WRITE_KEY,
      REDIS_URL: redis.url,
      REDIS_PREFIX: testPrefix(),
      KABLE_FLUSH_INTERVAL: '50ms',
      KABLE_REQUEST_TIMEOUT: '1s',
      KABLE_RETRY_MAX_DELAY: '300ms',
      DELIVERY_LOCK_DURATION: '2s',
      LOG_LEVEL: 'error',
    };
    service = await ServiceProcess.start(env);
    const ledger = new Ledger();
    const outcomes = await ledger.load(service.url, 200, { batchSize: 20 });
    expect(outcomes.map((o) => o.status)).toEqual(Array(10).fill(200));
    // Deliveries are under way.
    await waitFor(
      () => received,
      (n) => n > 0,
    );

    await redis.stop('SIGKILL');
    const signalledAt = Date.now();
    service.kill('SIGTERM');
    // Closing the worker waits for Redis; the stop deadline (2 x request timeout + 5 s = 7 s) ends it.
    const exit = await service.waitForExit(15_000);
    const stopMs = Date.now() - signalledAt;
    process.stdout.write(`[redis-down-sigterm] exit ${JSON.stringify(exit)} ${stopMs} ms after SIGTERM\n`);
    expect(exit).toEqual({ code: 1, signal: null });
    expect(service.output.some((line) => line.includes('did not stop within 7000 ms'))).toBe(true);

    // Redis comes back; a new process takes over the jobs the old one left active.
    await redis.restart();
    kable.respondWith(undefined);
    service = await ServiceProcess.start({ ...env, SERVICE_ROLE: 'worker' });
    await ledger.waitForAccepted(kable, 30_000);
    await waitForDrained(service, 30_000); // the old process's jobs wait for their locks to expire
    const tally = ledger.tally(kable);
    process.stdout.write(`${formatTally('redis-down-sigterm', tally)}\n`);
    expectInvariant(tally);
  }, 120_000);
});
