import { KableEmulator } from '../../tools/kable-emulator.js';
import {
  connectTestRedis,
  deleteKeys,
  KABLE_API_KEY,
  KABLE_CLIENT_ID,
  redisEnv,
  testPrefix,
  waitForDrained,
  WRITE_KEY,
} from '../support/harness.js';
import { expectInvariant, formatTally, Ledger } from '../support/ledger.js';
import { ensureBuilt, ServiceProcess } from '../support/processes.js';
import { waitFor } from '../support/wait.js';

/**
 * SIGTERM while clients keep sending and Kable is slow (`node dist/main.js`, SERVICE_ROLE=all).
 * Each client request opens its own connection, so none races the server closing an idle
 * keep-alive connection: every request either was answered or never got in.
 */
describe('faults: SIGTERM under load', () => {
  const kable = new KableEmulator({ clientId: KABLE_CLIENT_ID, apiKey: KABLE_API_KEY });
  const redis = connectTestRedis();
  const services: ServiceProcess[] = [];
  const prefixes: string[] = [];
  const baseEnv = () => ({
    KABLE_API_KEY,
    KABLE_CLIENT_ID,
    KABLE_BASE_URL: kable.url,
    SEGMENT_WRITE_KEYS: WRITE_KEY,
    ...redisEnv(),
    KABLE_FLUSH_INTERVAL: '200ms',
    KABLE_BATCH_SIZE: '50',
    KABLE_MAX_IN_FLIGHT: '2',
    KABLE_REQUEST_TIMEOUT: '2s',
    KABLE_RETRY_MAX_DELAY: '300ms',
    DELIVERY_LOCK_DURATION: '2s',
  });

  beforeAll(async () => {
    ensureBuilt();
    await kable.start();
  }, 120_000);
  afterAll(async () => {
    for (const service of services) await service.stop();
    await kable.stop();
    for (const prefix of prefixes) await deleteKeys(redis, prefix);
    redis.disconnect();
  });

  const cases = [
    { name: 'Kable slow (300 ms)', kable: { status: 200, delayMs: 300 }, tag: 'sigterm' },
    // Kable hangs past the request timeout: the worker cannot finish its jobs, it hands them back.
    { name: 'Kable hanging past the request timeout', kable: { status: 200, delayMs: 4000 }, tag: 'sigterm-hanging' },
  ];

  it.each(cases)(
    '$name: stops taking requests, finishes those in flight, finishes or hands back its jobs, exits 0; nothing accepted is lost',
    async ({ kable: answer, tag }) => {
      kable.reset();
      let received = 0; // requests Kable got, answered or not yet (the emulator records a request when it answers)
      kable.respondWith(() => {
        received += 1;
        return answer;
      });
      const env = { ...baseEnv(), REDIS_PREFIX: testPrefix() };
      prefixes.push(env.REDIS_PREFIX);
      const service = await ServiceProcess.start(env);
      services.push(service);
      const ledger = new Ledger();

      // Four clients send batches of 10, one after the other, until the server no longer lets them in.
      let refused = 0;
      const clients = Array.from({ length: 4 }, async () => {
        while (refused === 0) {
          const outcome = await ledger.send(
            service.url,
            Array.from({ length: 10 }, () => ledger.message()),
            { keepAlive: false },
          );
          if (outcome.error === 'ECONNREFUSED') refused += 1;
        }
      });
      // Load and deliveries are under way.
      await waitFor(
        () => ({ accepted: ledger.accepted.size, received }),
        (now) => now.accepted >= 300 && now.received >= 2,
      );
      const signalledAt = Date.now();
      service.kill('SIGTERM');
      const exit = await service.waitForExit(15_000);
      const shutdownMs = Date.now() - signalledAt;
      await Promise.all(clients);
      const deliveredByFirst = kable.count;
      process.stdout.write(
        `[${tag}] exit ${JSON.stringify(exit)} ${shutdownMs} ms after SIGTERM; requests ${JSON.stringify(ledger.outcomes)}\n`,
      );
      expect(exit).toEqual({ code: 0, signal: null });
      // Bounded: at most about two request timeouts (2 s here), however much was buffered for Kable.
      expect(shutdownMs).toBeLessThan(3 * 2000);

      // Every request was answered 200 (taken in before the stop) or 503 (during it), or never got in:
      // refused, or reset while it waited in the listen backlog as the server closed.
      const outcomes = Object.keys(ledger.outcomes);
      expect(outcomes.filter((o) => !['200', '503', 'ECONNREFUSED', 'ECONNRESET'].includes(o))).toEqual([]);

      // What the old process did not deliver is still in Redis: a new worker delivers it.
      kable.respondWith(undefined);
      const worker = await ServiceProcess.start({ ...env, SERVICE_ROLE: 'worker' });
      services.push(worker);
      await ledger.waitForAccepted(kable, 30_000);
      await waitForDrained(worker, 30_000);
      const tally = ledger.tally(kable);
      process.stdout.write(
        `${formatTally(tag, tally)}\n[${tag}] ${deliveredByFirst} delivered by the stopping process, ${tally.accepted - deliveredByFirst} by the new worker\n`,
      );
      expectInvariant(tally);
      // No request was dropped after it was taken in: nothing reached Kable without its 200.
      expect(tally.deliveredUnacknowledged).toBe(0);
    },
    120_000,
  );
});
