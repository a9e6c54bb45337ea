import request from 'supertest';
import { basicAuth, type Harness, startHarness, track } from './support/harness.js';
import { waitFor } from './support/wait.js';

interface QueueHealth {
  status: string;
  backlogEvents: number;
  backlogLimit: number;
  overLimit: boolean;
  backlogJobs: number;
}

async function queueHealth(h: Harness): Promise<QueueHealth> {
  const res = await request(h.url).get('/health/ready');
  return res.body.info.deliveryQueue as QueueHealth;
}

describe('backpressure: BACKLOG_LIMIT', () => {
  let h: Harness;

  beforeEach(async () => {
    h = await startHarness({ BACKLOG_LIMIT: '10' });
  });
  afterEach(async () => {
    await h.close();
  });

  it('past the limit ingest answers 503 with Retry-After and queues nothing; it accepts again once Kable drains the backlog', async () => {
    // Kable is down: events wait in the queue for a retry.
    h.kable.respondWith(() => ({ status: 503, body: { message: 'maintenance' } }));
    const sent: string[] = [];
    const batch = (n: number) => {
      const messages = Array.from({ length: n }, () => track());
      return { messages, send: () => request(h.url).post('/v1/batch').set('authorization', basicAuth()).send({ batch: messages }) };
    };
    const first = batch(6);
    expect((await first.send()).status).toBe(200);
    sent.push(...first.messages.map((m) => m.messageId as string));
    expect(
      await waitFor(
        () => queueHealth(h),
        (q) => q.backlogEvents === 6,
      ),
    ).toMatchObject({
      status: 'up',
      backlogEvents: 6,
      backlogLimit: 10,
      overLimit: false,
    });
    const second = batch(6);
    expect((await second.send()).status).toBe(200);
    sent.push(...second.messages.map((m) => m.messageId as string));

    // The ingest path reads a figure at most 250 ms old: wait until it sees 12 >= 10.
    const refused = await waitFor(
      async () => {
        const message = track();
        const res = await request(h.url).post('/v1/track').set('authorization', basicAuth()).send(message);
        if (res.status === 200) sent.push(message.messageId as string);
        return res;
      },
      (res) => res.status === 503,
    );
    const backlog = (await queueHealth(h)).backlogEvents;
    expect(backlog).toBe(sent.length);
    expect(refused.headers['retry-after']).toBe('30');
    expect(refused.body).toEqual({
      statusCode: 503,
      error: 'Service Unavailable',
      message: expect.stringMatching(
        /^\d+ events are waiting for Kable, over the limit of 10 \(BACKLOG_LIMIT\): nothing was accepted, retry later$/,
      ),
    });
    // The figure in the message is the one the ingest path acted on (at most 250 ms old).
    const figure = Number(/^\d+/.exec(refused.body.message as string)![0]);
    expect(figure).toBeGreaterThanOrEqual(10);
    expect(figure).toBeLessThanOrEqual(sent.length);
    const batchRefused = await batch(3).send();
    expect(batchRefused.status).toBe(503);
    expect(await queueHealth(h)).toMatchObject({ status: 'up', backlogEvents: sent.length, backlogLimit: 10, overLimit: true });
    expect((await request(h.url).get('/health/ready')).status).toBe(200);
    expect((await request(h.url).get('/metrics')).text).toContain(`\nkable_backlog_events ${sent.length}\n`);

    // Kable is back: the backlog drains and ingest accepts again.
    h.kable.respondWith(undefined);
    await h.kable.waitForEvents(sent.length);
    await waitFor(
      () => queueHealth(h),
      (q) => q.backlogEvents === 0,
    );
    const later = track();
    await waitFor(
      () => request(h.url).post('/v1/track').set('authorization', basicAuth()).send(later),
      (res) => res.status === 200,
    );
    sent.push(later.messageId as string);
    await h.kable.waitForEvents(sent.length);
    // Exactly the accepted messages reached Kable: nothing refused was queued.
    expect(h.kable.events.map((e) => e.transactionId).sort()).toEqual([...sent].sort());
  });

  it('a counter left too high by a crash heals once the queue is empty', async () => {
    await h.redis.set(h.key('backlog', 'events'), '500');
    expect(await queueHealth(h)).toMatchObject({ backlogEvents: 0, overLimit: false });
    expect(await h.redis.get(h.key('backlog', 'events'))).toBe('0');
    const res = await request(h.url).post('/v1/track').set('authorization', basicAuth()).send(track());
    expect(res.status).toBe(200);
  });
});
