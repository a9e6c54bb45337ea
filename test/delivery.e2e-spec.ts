import request from 'supertest';
import { KableDeliveryWorker } from '../src/delivery/delivery.worker.js';
import { KableEmulator } from '../tools/kable-emulator.js';
import { basicAuth, type Harness, KABLE_API_KEY, KABLE_CLIENT_ID, startHarness, track, waitForDrained } from './support/harness.js';
import { sleep, waitFor } from './support/wait.js';

async function post(h: Harness, messages: Record<string, unknown>[]) {
  const res = await request(h.url).post('/v1/batch').set('authorization', basicAuth()).send({ batch: messages });
  expect(res.status).toBe(200);
  return res;
}

async function deadLetters(h: Harness): Promise<Record<string, unknown>[]> {
  const ids = await h.redis.zrange(h.key('dead', 'index'), 0, -1);
  const values = ids.length ? await h.redis.mget(ids.map((id) => h.key('dead', 'event', id))) : [];
  return values.map((v) => JSON.parse(v!));
}

describe('delivery to Kable', () => {
  let h: Harness;
  beforeEach(async () => {
    h = await startHarness();
  });
  afterEach(async () => {
    await h.close();
  });

  it('retries after a 500 and delivers each event once', async () => {
    let calls = 0;
    h.kable.respondWith(() => (++calls === 1 ? { status: 500, body: { message: 'Something went wrong' } } : undefined));
    const messages = [track(), track(), track()];
    await post(h, messages);
    await h.kable.waitForEvents(3);
    expect(h.kable.requests.map((r) => r.status)).toEqual([500, 200]);
    expect(h.kable.requests.at(1)!.events.map((e) => e.transactionId)).toEqual(messages.map((m) => m.messageId));
    expect([...h.kable.arrivals.values()]).toEqual([1, 1, 1]);
    expect(await deadLetters(h)).toEqual([]);
  });

  it('retries network errors and honours Retry-After on 503', async () => {
    let calls = 0;
    h.kable.respondWith(() => {
      calls += 1;
      if (calls === 1) return { status: 0, destroy: true };
      if (calls === 2) return { status: 503, headers: { 'retry-after': '1' }, body: { message: 'busy' } };
      return undefined;
    });
    await post(h, [track()]);
    await h.kable.waitForEvents(1);
    expect(h.kable.requests.at(2)!.at - h.kable.requests.at(1)!.at).toBeGreaterThanOrEqual(950);
  });

  it('delivers the good events of a batch Kable answers 400 for, and keeps the bad one with the reason', async () => {
    h.kable.respondWith((events) =>
      events.some((e) => e.data.bad === true) ? { status: 400, body: { message: 'invalid event: data.bad' } } : undefined,
    );
    const good = Array.from({ length: 9 }, () => track());
    const bad = track({ properties: { bad: true } });
    await post(h, [...good.slice(0, 4), bad, ...good.slice(4)]);
    await h.kable.waitForEvents(9);
    const letters = await waitFor(
      () => deadLetters(h),
      (l) => l.length === 1,
    );
    expect(h.kable.events.map((e) => e.transactionId).sort()).toEqual(good.map((m) => m.messageId as string).sort());
    expect(letters).toEqual([
      expect.objectContaining({
        event: expect.objectContaining({ transactionId: bad.messageId }),
        reason: 'HTTP 400',
        status: 400,
        body: '{"message":"invalid event: data.bad"}',
        requestId: expect.stringMatching(/^[0-9a-f-]{36}$/),
        attempts: 1,
      }),
    ]);
  });

  it('does not retry a 401: the events are kept as failed with the status, answer and X-REQUEST-ID', async () => {
    h.kable.respondWith(() => ({ status: 401, body: { message: 'Unauthorized' } }));
    const messages = [track(), track()];
    await post(h, messages);
    const letters = await waitFor(
      () => deadLetters(h),
      (l) => l.length === 2,
    );
    await waitForDrained(h); // a retry would keep the job in the queue
    expect(h.kable.requests).toHaveLength(1);
    const requestId = h.kable.requests.at(0)!.requestId;
    expect(letters.map((l) => (l.event as { transactionId: string }).transactionId).sort()).toEqual(
      messages.map((m) => m.messageId).sort(),
    );
    for (const letter of letters) {
      expect(letter).toMatchObject({ reason: 'HTTP 401', status: 401, body: '{"message":"Unauthorized"}', requestId, attempts: 1 });
    }
    // The one job, on whichever shard it went to.
    expect(await h.jobCounts('failed')).toEqual({ failed: 1 });
    const jobKeys = (await h.keysMatching(`${h.prefix}:*:kable-delivery:[0-9]*`)).filter((key) => /:kable-delivery:\d+$/.test(key));
    expect(jobKeys).toHaveLength(1);
    const job = await h.redis.hgetall(jobKeys[0]!);
    expect(job.failedReason).toBe('HTTP 401: {"message":"Unauthorized"}');
    expect(job.data).not.toContain(h.config.kable.apiKey);
  });

  it('gathers single-event posts into few Kable requests', async () => {
    const messages = Array.from({ length: 40 }, () => track());
    await Promise.all(messages.map((m) => request(h.url).post('/v1/track').set('authorization', basicAuth()).send(m).expect(200)));
    await h.kable.waitForEvents(40);
    expect(h.kable.requests.length).toBeLessThanOrEqual(4);
    expect(h.kable.requests.reduce((n, r) => n + r.events.length, 0)).toBe(40);
  });
});

describe('delivery: memory bound', () => {
  // The worker holds at most 4 x KABLE_MAX_IN_FLIGHT x KABLE_BATCH_SIZE = 40 events decoded.
  const SMALL = { KABLE_MAX_IN_FLIGHT: '1', KABLE_BATCH_SIZE: '10' };
  let h: Harness;
  beforeEach(async () => {
    h = await startHarness(SMALL);
  });
  afterEach(async () => {
    await h.close();
  });

  /** Posts `jobs` requests of 10 track events one after the other (one job each); returns their messageIds. */
  async function postJobs(on: Harness, jobs: number): Promise<string[]> {
    const sent: string[] = [];
    for (let i = 0; i < jobs; i += 1) {
      const batch = Array.from({ length: 10 }, () => track());
      await post(on, batch);
      sent.push(...batch.map((m) => m.messageId as string));
    }
    return sent;
  }

  it('holds at most 4 full Kable requests of events while many jobs wait for a slow Kable, and delivers each once', async () => {
    h.kable.respondWith(() => ({ status: 200, body: 'Events successfully recorded', delayMs: 150 }));
    const worker = h.app.get(KableDeliveryWorker);
    const sent = await postJobs(h, 12);
    let maxHeld = 0;
    let maxWaiting = 0;
    let maxBuffered = 0;
    for (const until = Date.now() + 15_000; h.kable.count < sent.length && Date.now() < until;) {
      maxHeld = Math.max(maxHeld, worker.budget.held);
      maxWaiting = Math.max(maxWaiting, worker.budget.queued);
      maxBuffered = Math.max(maxBuffered, worker.batcher.pending);
      await sleep(10); // samples the worker's state every 10 ms while it delivers
    }
    expect(h.kable.count).toBe(sent.length);
    expect(maxHeld).toBe(40);
    expect(maxBuffered).toBeLessThanOrEqual(40);
    expect(maxWaiting).toBeGreaterThan(0);
    expect(h.kable.requests.every((r) => r.events.length <= 10)).toBe(true);
    expect([...h.kable.arrivals.keys()].sort()).toEqual([...sent].sort());
    expect([...h.kable.arrivals.values()].every((n) => n === 1)).toBe(true);
  });

  it('hands the jobs still waiting for room back to the queue when the worker stops; the next worker delivers each event once', async () => {
    const kable = new KableEmulator({ clientId: KABLE_CLIENT_ID, apiKey: KABLE_API_KEY });
    await kable.start();
    const first = await startHarness(SMALL, { kable });
    try {
      kable.respondWith(() => ({ status: 200, body: 'Events successfully recorded', delayMs: 200 }));
      const worker = first.app.get(KableDeliveryWorker);
      const sent = await postJobs(first, 12);
      await waitFor(
        () => worker.budget.queued,
        (queued) => queued > 0,
        1000,
      );
      const deliveredBeforeStop = kable.count;
      await first.close({ keepKeys: true });
      // Only the jobs holding room (40 events) finish while stopping; the waiting ones go back unsent.
      expect(kable.count - deliveredBeforeStop).toBeLessThanOrEqual(40);
      expect(kable.count).toBeLessThan(sent.length);

      kable.respondWith(undefined);
      const second = await startHarness(SMALL, { kable, prefix: first.prefix });
      try {
        await kable.waitForEvents(sent.length);
        expect([...kable.arrivals.keys()].sort()).toEqual([...sent].sort());
        expect([...kable.arrivals.values()].every((n) => n === 1)).toBe(true);
      } finally {
        await second.close();
      }
    } finally {
      await kable.stop();
    }
  });
});

describe('delivery: retry horizon', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ KABLE_RETRY_HORIZON: '1s' });
  });
  afterAll(async () => {
    await h.close();
  });

  it('keeps events that are still failing after the retry horizon as dead letters', async () => {
    h.kable.respondWith(() => ({ status: 503, body: { message: 'down' } }));
    await post(h, [track()]);
    const letters = await waitFor(
      () => deadLetters(h),
      (l) => l.length === 1,
    );
    expect(letters[0]).toMatchObject({ status: 503, reason: 'gave up after the retry horizon (0 min): HTTP 503' });
    expect((letters.at(0)!.attempts as number) > 1).toBe(true);
  });
});
