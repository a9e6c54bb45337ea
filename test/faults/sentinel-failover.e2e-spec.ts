import request from 'supertest';
import { basicAuth, type Harness, startHarness, track, waitForDrained } from '../support/harness.js';
import { expectInvariant, formatTally, Ledger } from '../support/ledger.js';
import { RedisSentinelSet } from '../support/topologies.js';
import { sleep, waitFor } from '../support/wait.js';

/** One request of the load: when it was sent and answered, and how it ended. */
interface Request {
  sentAt: number;
  answeredAt: number;
  outcome: string;
}

/** Batches of new track events from `lanes` concurrent senders until stop(); every request is in `requests` and the ledger. */
function startLoad(url: string, ledger: Ledger, { lanes = 4, batchSize = 20, pauseMs = 20 } = {}) {
  const requests: Request[] = [];
  let running = true;
  const done = Promise.all(
    Array.from({ length: lanes }, async () => {
      while (running) {
        const sentAt = Date.now();
        const outcome = await ledger.send(
          url,
          Array.from({ length: batchSize }, () => ledger.message()),
        );
        requests.push({ sentAt, answeredAt: Date.now(), outcome: String(outcome.status ?? outcome.error) });
        await sleep(pauseMs);
      }
    }),
  );
  return {
    requests,
    async stop() {
      running = false;
      await done;
    },
  };
}

/**
 * A primary, two replicas and three Sentinels of the test's own; the service (in-process, every
 * role) finds the primary through Sentinel (REDIS_SENTINELS) and waits for replicas (WAIT) before
 * it answers 200 (REDIS_MIN_REPLICAS_ACK).
 */
describe('faults: the Sentinel primary is killed under load', () => {
  let set: RedisSentinelSet | undefined;
  let h: Harness | undefined;
  const lines: string[] = [];
  // nestjs-pino keeps the first harness's stream for the whole file: every harness gets this one.
  const logStream = { write: (line: string) => void lines.push(line) };
  const sentinelEnv = (set: RedisSentinelSet, minReplicasAck: number) => ({
    REDIS_SENTINELS: set.sentinelsEnv,
    REDIS_SENTINEL_NAME: set.name,
    REDIS_MIN_REPLICAS_ACK: String(minReplicasAck),
    KABLE_FLUSH_INTERVAL: '50ms',
    // Jobs a worker held on the dead primary come back quickly (stalled after about twice this).
    DELIVERY_LOCK_DURATION: '2s',
    LOG_LEVEL: 'warn',
  });

  beforeAll(async () => {
    set = await RedisSentinelSet.start({ replicas: 2, sentinels: 3 });
  }, 30_000);
  afterEach(async () => {
    await h?.close();
    h = undefined;
    lines.length = 0;
  }, 30_000);
  afterAll(async () => set?.destroy(), 30_000);

  it('REDIS_MIN_REPLICAS_ACK=3 with two replicas: ingest answers 503, and the log says which setting asked for more', async () => {
    h = await startHarness(sentinelEnv(set!, 3), { logStream });
    const res = await request(h.url)
      .post('/v1/batch')
      .set('authorization', basicAuth())
      .send({ batch: [track()] });
    expect(res.status).toBe(503);
    expect(res.headers['retry-after']).toBe('5');
    // The client is told only that the write could not be stored; the reason is in the log.
    expect(res.body).toEqual({
      statusCode: 503,
      error: 'Service Unavailable',
      message:
        "the messages could not be confirmed as stored (Redis's replicas did not acknowledge them in time, REDIS_MIN_REPLICAS_ACK); retry later: a repeat of the same messageId is not billed twice",
    });
    const logged = await waitFor(
      () => lines.filter((line) => line.includes('ingest answers 503')).map((line) => (JSON.parse(line) as { msg: string }).msg),
      (msgs) => msgs.length > 0,
      5000,
    );
    expect(logged).toEqual([
      'ingest answers 503, the messages could not be stored: only 2 of the 3 replicas REDIS_MIN_REPLICAS_ACK asks for acknowledged the write within 1000 ms',
    ]);
  }, 20_000);

  it('after SIGKILL of the primary ingest answers 200 again within 15 s; everything answered 200 reaches Kable once', async () => {
    h = await startHarness(sentinelEnv(set!, 1), { logStream });
    const ledger = new Ledger();
    const load = startLoad(h.url, ledger);
    try {
      // Healthy first: every request answered 200.
      await waitFor(
        () => load.requests.length,
        (n) => n >= 40,
        10_000,
      );
      expect(new Set(load.requests.map((r) => r.outcome))).toEqual(new Set(['200']));

      const oldPort = await set!.killPrimary();
      const killedAt = Date.now(); // the process is gone (killPrimary waits for its exit)
      const newPort = await set!.waitForFailover(oldPort, 20_000);
      expect(newPort).not.toBe(oldPort);
      // The first 200 to a request sent after the kill: stored on the new primary and one replica.
      const firstOk = await waitFor(
        () => load.requests.find((r) => r.sentAt >= killedAt && r.outcome === '200'),
        (found) => found !== undefined,
        20_000,
      ).catch((error: Error) => {
        // Say what the service answered and logged meanwhile (its own lines, not one per request).
        const answers = load.requests.filter((r) => r.sentAt >= killedAt).map((r) => `${r.answeredAt - killedAt}:${r.outcome}`);
        const log = lines.filter((line) => !line.includes('"req":')).join('');
        throw new Error(
          `${error.message}\nanswers since the kill (ms:outcome): ${answers.join(' ').slice(-3000)}\nlog:\n${log.slice(-6000)}`,
        );
      });
      const recoveryMs = firstOk!.answeredAt - killedAt;
      process.stdout.write(`[sentinel-failover] ingest answered 200 again ${recoveryMs} ms after the primary was SIGKILLed\n`);
      expect({ recoveryMs, within15s: recoveryMs <= 15_000 }).toEqual({ recoveryMs, within15s: true });
      // Load on the new primary for a while, then stop.
      await waitFor(
        () => load.requests.filter((r) => r.sentAt > firstOk!.answeredAt && r.outcome === '200').length,
        (n) => n >= 40,
        10_000,
      );
    } finally {
      await load.stop();
    }
    // While there was no primary, ingest refused (503); it never failed otherwise.
    expect(Object.keys(ledger.outcomes).sort()).toEqual(['200', '503']);

    // The delivery workers follow the failover too (their own connections): the queue drains.
    await ledger.waitForAccepted(h.kable, 30_000);
    await waitForDrained(h, 30_000);
    const tally = ledger.tally(h.kable);
    process.stdout.write(`${formatTally('sentinel-failover', tally)}\n`);
    expectInvariant(tally);
  }, 60_000);
});
