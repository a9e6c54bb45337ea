import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { createApp } from '../../src/app.setup.js';
import { decodeJobEvents } from '../../src/delivery/job-data.js';
import { QUEUES } from '../../src/delivery/queues.js';
import request from 'supertest';
import { type Harness, startHarness, waitForDrained } from '../support/harness.js';
import { expectInvariant, formatTally, Ledger } from '../support/ledger.js';
import { sleep, waitFor } from '../support/wait.js';

/** The value of one sample of /metrics, 0 when absent. */
async function metric(h: Harness, sample: string): Promise<number> {
  const text = (await request(h.url).get('/metrics')).text;
  const line = text.split('\n').find((l) => l.startsWith(`${sample} `));
  return line === undefined ? 0 : Number(line.slice(sample.length + 1));
}

/**
 * Kable misbehaves; the service runs in-process against a real Redis. After each fault: every
 * event answered 200 reaches Kable, and Kable counts each transactionId once.
 */
describe('faults: Kable misbehaves', () => {
  let h: Harness;
  let ledger: Ledger;
  const report = (name: string) => process.stdout.write(`${formatTally(name, ledger.tally(h.kable))}\n`);

  beforeEach(() => {
    ledger = new Ledger();
  });
  afterEach(async () => {
    await h?.close();
  });

  it('Kable down (503, then connection refused) for a while, then back: everything accepted arrives once', async () => {
    h = await startHarness({ KABLE_FLUSH_INTERVAL: '50ms', KABLE_REQUEST_TIMEOUT: '1s', KABLE_RETRY_MAX_DELAY: '300ms' });
    const port = Number(new URL(h.kable.url).port);
    h.kable.respondWith(() => ({ status: 503, body: { message: 'Service Unavailable' } }));

    const first = await ledger.load(h.url, 200, { batchSize: 20 });
    expect(first.map((o) => o.status)).toEqual(Array(10).fill(200));
    // Deliveries are failing and being retried.
    await waitFor(
      () => h.kable.requests.filter((r) => r.status === 503).length,
      (n) => n >= 6,
    );

    await h.kable.stop(); // now connections are refused
    const second = await ledger.load(h.url, 100, { batchSize: 20 });
    expect(second.map((o) => o.status)).toEqual(Array(5).fill(200));
    const before = h.kable.requests.length;
    const retriedBefore = await metric(h, 'kable_events_retried_total');
    await sleep(1500); // the outage lasts a while (the fault under test)
    expect(h.kable.requests.length).toBe(before);
    // Retries met the closed port meanwhile, and were kept for later.
    expect(await metric(h, 'kable_events_retried_total')).toBeGreaterThan(retriedBefore);

    await h.kable.start(port);
    h.kable.respondWith(undefined);
    await ledger.waitForAccepted(h.kable);
    await waitForDrained(h); // late repeats, if any, are counted too
    const tally = ledger.tally(h.kable);
    report('kable-down');
    expect(tally.accepted).toBe(300);
    expectInvariant(tally);
    // The events were tried while Kable answered 503 and reached it only afterwards.
    expect(h.kable.requests.filter((r) => r.status === 503).flatMap((r) => r.events).length).toBeGreaterThanOrEqual(6);
  }, 60_000);

  describe('429 with Retry-After', () => {
    let second: NestFastifyApplication | undefined;
    afterEach(async () => {
      await second?.close();
      second = undefined;
    });

    it('every worker waits Retry-After before the next request, and the wait uses no attempt', async () => {
      h = await startHarness({ KABLE_FLUSH_INTERVAL: '50ms', KABLE_RETRY_MAX_DELAY: '300ms' });
      // A second worker process on the same queue: the pause must hold for every worker, not just the one that got the 429.
      second = await createApp({ ...h.config, role: 'worker' }, { logger: false });
      await second.init();
      const limiterKey = h.key(QUEUES.delivery, 'limiter');
      let arrived = 0;
      h.kable.respondWith(() =>
        arrived++ === 0 ? { status: 429, headers: { 'retry-after': '2' }, body: { message: 'Too Many Requests' } } : undefined,
      );

      const firstEvent = ledger.message();
      expect((await ledger.send(h.url, [firstEvent], { single: true })).status).toBe(200);
      await waitFor(
        () => h.kable.requests.length,
        (n) => n >= 1,
      );
      // The queue is rate limited.
      await waitFor(
        () => h.redis.pttl(limiterKey),
        (ttl) => ttl > 0,
      );
      const limitedAt = h.kable.requests.at(0)!.at;

      // More work arrives while the queue is paused: 20 jobs.
      const more = await Promise.all(Array.from({ length: 20 }, () => ledger.send(h.url, [ledger.message()], { single: true })));
      expect(more.map((o) => o.status)).toEqual(Array(20).fill(200));

      await ledger.waitForAccepted(h.kable);
      await waitForDrained(h);
      const tally = ledger.tally(h.kable);
      report('kable-429');
      expectInvariant(tally);
      expect(h.kable.requests.at(0)!.status).toBe(429);
      const gaps = h.kable.requests.slice(1).map((r) => r.at - limitedAt);
      process.stdout.write(`[kable-429] first request after the 429 came ${Math.min(...gaps)} ms later (Retry-After: 2 s)\n`);
      expect(Math.min(...gaps)).toBeGreaterThanOrEqual(2000 - 50);

      // The job that met the 429 completed on its first counted attempt: the wait did not use one.
      const completed = (await Promise.all(h.keys.all().map((shard) => h.deliveryQueue(shard).getCompleted()))).flat();
      const decoded = completed.map((j) => ({ j, events: decodeJobEvents(j.data) }));
      const job = decoded.find(({ events }) => events.some((e) => e.transactionId === firstEvent.messageId))?.j;
      expect(job).toBeDefined();
      expect({ attemptsMade: job!.attemptsMade, startedMoreThanOnce: job!.attemptsStarted >= 2 }).toEqual({
        attemptsMade: 1,
        startedMoreThanOnce: true,
      });
    }, 60_000);
  });

  it('Kable slower than the request timeout: the request is abandoned and retried, Kable counts each event once', async () => {
    h = await startHarness({ KABLE_FLUSH_INTERVAL: '50ms', KABLE_REQUEST_TIMEOUT: '500ms', KABLE_RETRY_MAX_DELAY: '300ms' });
    // The first request takes 3 s; Kable still records it, as a real server that finished late would.
    let arrived = 0;
    h.kable.respondWith(() => (arrived++ === 0 ? { status: 200, delayMs: 3000 } : undefined));

    const outcomes = await ledger.load(h.url, 10, { batchSize: 10 });
    expect(outcomes.map((o) => o.status)).toEqual([200]);
    await ledger.waitForAccepted(h.kable);
    // Delivered by the retry while the slow request is still running: it was abandoned, not waited for.
    expect(arrived).toBe(2);
    expect(h.kable.requests).toHaveLength(1);
    // The slow request finishes.
    await waitFor(
      () => h.kable.requests.length,
      (n) => n >= 2,
      5000,
    );
    const tally = ledger.tally(h.kable);
    report('kable-slow');
    expectInvariant(tally);
    expect(h.kable.requests.at(1)!.events.map((e) => e.transactionId)).toEqual(h.kable.requests.at(0)!.events.map((e) => e.transactionId));
    // Kable received every event twice (the same transactionId) and counts it once.
    expect(tally.repeatsSent).toBe(10);
    expect(h.kable.events).toHaveLength(10);
  });
});
