import { COMPLETED_KEPT } from '../../src/delivery/delivery-queues.js';
import { QUEUES } from '../../src/delivery/queues.js';
import { type Harness, KABLE_API_KEY, KABLE_CLIENT_ID, redisEnv, startHarness, waitForDrained, WRITE_KEY } from '../support/harness.js';
import { expectInvariant, formatTally, Ledger } from '../support/ledger.js';
import { ensureBuilt, ServiceProcess } from '../support/processes.js';
import { waitFor } from '../support/wait.js';

/**
 * The delivery worker runs as its own process (`node dist/main.js`, SERVICE_ROLE=worker) and is
 * killed with SIGKILL while it has requests out to Kable. Its jobs are still active in Redis;
 * once their locks expire another worker takes them over and delivers them.
 */
describe('faults: the worker process is killed (SIGKILL) mid-delivery', () => {
  let h: Harness;
  const workers: ServiceProcess[] = [];

  beforeAll(() => ensureBuilt(), 120_000);
  afterEach(async () => {
    for (const worker of workers.splice(0)) await worker.stop();
    await h?.close();
  });

  it('its jobs are picked up again by a new worker: everything accepted arrives, counted once', async () => {
    h = await startHarness({ SERVICE_ROLE: 'api' });
    // Kable is slow, so that requests are in flight when the worker dies.
    h.kable.respondWith(() => ({ status: 200, delayMs: 250 }));
    const workerEnv = {
      SERVICE_ROLE: 'worker',
      KABLE_API_KEY,
      KABLE_CLIENT_ID,
      KABLE_BASE_URL: h.kable.url,
      SEGMENT_WRITE_KEYS: WRITE_KEY,
      ...redisEnv(),
      REDIS_PREFIX: h.prefix,
      KABLE_FLUSH_INTERVAL: '50ms',
      KABLE_BATCH_SIZE: '20',
      KABLE_MAX_IN_FLIGHT: '2',
      KABLE_REQUEST_TIMEOUT: '2s',
      KABLE_RETRY_MAX_DELAY: '300ms',
      DELIVERY_LOCK_DURATION: '2s',
    };
    const ledger = new Ledger();
    const first = await ServiceProcess.start(workerEnv);
    workers.push(first);

    const outcomes = await ledger.load(h.url, 400, { batchSize: 10 });
    expect(outcomes.every((o) => o.status === 200)).toBe(true);
    // Deliveries are under way.
    await waitFor(
      () => h.kable.count,
      (n) => n >= 60,
    );
    first.kill('SIGKILL');
    expect(await first.waitForExit(5000)).toEqual({ code: null, signal: 'SIGKILL' });
    const deliveredByFirst = h.kable.count;

    // The dead worker's jobs are still marked active in Redis, holding locks no one renews.
    const counts = await h.jobCounts('active', 'waiting', 'completed');
    expect(counts.active).toBeGreaterThan(0);
    expect(deliveredByFirst).toBeLessThan(400);

    workers.push(await ServiceProcess.start(workerEnv));
    await ledger.waitForAccepted(h.kable, 30_000);
    await waitForDrained(h);
    const tally = ledger.tally(h.kable);
    process.stdout.write(
      `${formatTally('worker-sigkill', tally)}\n[worker-sigkill] ${deliveredByFirst} delivered before the kill, ${counts.active} jobs active at the kill, ${400 - deliveredByFirst} delivered by the new worker\n`,
    );
    expect(tally.accepted).toBe(400);
    expectInvariant(tally);
    // Every job the API created (concurrent requests may share one: group commit) completes; each
    // shard's queue keeps its last COMPLETED_KEPT completed jobs.
    const created = await Promise.all(
      h.keys.all().map(async (shard) => Number(await h.redis.get(h.keys.shardKey(shard, QUEUES.delivery, 'id')))),
    );
    const total = created.reduce((sum, n) => sum + n, 0);
    expect(total).toBeGreaterThan(0);
    expect(total).toBeLessThanOrEqual(40);
    await waitFor(
      () => h.jobCounts('completed', 'failed', 'waiting', 'active', 'delayed'),
      (counts) =>
        counts.completed === created.reduce((sum, n) => sum + Math.min(n, COMPLETED_KEPT), 0) &&
        counts.failed + counts.waiting + counts.active + counts.delayed === 0,
    );
  }, 90_000);
});
