import request from 'supertest';
import { REJECTED_SAMPLE_SIZE } from '../src/trace/event-trace.js';
import { basicAuth, type Harness, startHarness, track } from './support/harness.js';
import { waitFor } from './support/wait.js';

const ADMIN_TOKEN = 'admin-token-rejected-records-0123456789';

/**
 * Keys under the harness's prefix, from every master on a cluster; not BullMQ's `stalled-check` markers,
 * which each queue's worker sets with a TTL and sets again on its own timer (one per shard's queue).
 */
async function countKeys(h: Harness): Promise<number> {
  return (await h.keysMatching(`${h.prefix}:*`)).filter((key) => !key.endsWith(':stalled-check')).length;
}

/** A track call without `event`: rejected with missing_event. */
const invalid = (messageId: string) => ({ type: 'track', userId: 'u1', messageId });

describe('records of rejected messages are bounded', () => {
  let h: Harness;

  beforeAll(async () => {
    h = await startHarness({ ADMIN_TOKEN });
  });
  afterAll(async () => {
    await h.close();
  });

  const trace = (id: string, on: Harness = h) =>
    request(on.url)
      .get(`/v1/events/${encodeURIComponent(id)}`)
      .set('authorization', `Bearer ${ADMIN_TOKEN}`);

  it('20,000 rejected messages add a sample per reason, not a key each', async () => {
    const before = await countKeys(h);
    for (let b = 0; b < 8; b += 1) {
      const batch = Array.from({ length: 2500 }, (_, i) => invalid(`rej-${b}-${i}`));
      const res = await request(h.url).post('/v1/batch').set('authorization', basicAuth()).send({ batch });
      expect(res.status).toBe(400);
      expect(res.body.rejected).toHaveLength(2500);
    }
    const added = (await countKeys(h)) - before;
    expect(added).toBeLessThanOrEqual(2000);
    expect(added).toBeLessThanOrEqual(3); // the reasons set, and the one reason's records and order
    expect(await h.redis.hlen(h.key('rejected', 'missing_event', 'records'))).toBe(REJECTED_SAMPLE_SIZE);

    // The latest rejections can be looked up; older ones have left the sample.
    expect((await trace('rej-7-2499')).body).toEqual({
      messageId: 'rej-7-2499',
      status: 'rejected',
      rejected: { at: expect.stringMatching(/Z$/), code: 'missing_event', error: 'event is required on a track call (a non-empty string)' },
    });
    expect((await trace('rej-0-0')).status).toBe(404);

    // A rare reason keeps its own sample whatever the flood of another.
    const rare = await request(h.url)
      .post('/v1/batch')
      .set('authorization', basicAuth())
      .send({ batch: [{ type: 'track', event: 'x', messageId: 'rej-rare' }] });
    expect(rare.status).toBe(400);
    expect((await trace('rej-rare')).body).toMatchObject({ status: 'rejected', rejected: { code: 'missing_identity' } });
    expect((await trace('rej-7-2499')).body).toMatchObject({ status: 'rejected' });
  });

  it('a rejected messageId sent again valid shows as accepted, then delivered', async () => {
    const rejected = await request(h.url).post('/v1/track').set('authorization', basicAuth()).send(invalid('rej-then-ok'));
    expect(rejected.status).toBe(400);
    expect((await trace('rej-then-ok')).body).toMatchObject({ status: 'rejected' });
    await request(h.url)
      .post('/v1/track')
      .set('authorization', basicAuth())
      .send(track({ messageId: 'rej-then-ok' }))
      .expect(200);
    await h.kable.waitForEvents(1);
    const body = await waitFor(
      async () => (await trace('rej-then-ok')).body as Record<string, unknown>,
      (b) => b.status === 'delivered',
    );
    expect(body).toEqual({
      messageId: 'rej-then-ok',
      status: 'delivered',
      received: { at: expect.stringMatching(/Z$/), accepted: true, jobId: expect.any(String) },
      delivered: { at: expect.stringMatching(/Z$/), attempts: 1, kableRequestId: h.kable.requests.at(0)!.requestId },
    });
  });

  it('while the accepted copy waits for Kable, the earlier rejection is not shown', async () => {
    // An API-only replica: no worker, so the event stays queued.
    const api = await startHarness({ ADMIN_TOKEN, SERVICE_ROLE: 'api' });
    try {
      const rejected = await request(api.url).post('/v1/track').set('authorization', basicAuth()).send(invalid('rej-then-queued'));
      expect(rejected.status).toBe(400);
      await request(api.url)
        .post('/v1/track')
        .set('authorization', basicAuth())
        .send(track({ messageId: 'rej-then-queued' }))
        .expect(200);
      const res = await trace('rej-then-queued', api);
      expect(res.body).toEqual({
        messageId: 'rej-then-queued',
        status: 'queued',
        received: { at: expect.stringMatching(/Z$/), accepted: true, jobId: expect.any(String) },
        job: { id: expect.any(String), state: 'waiting', attemptsMade: 0 },
      });
    } finally {
      await api.close();
    }
  });
});
