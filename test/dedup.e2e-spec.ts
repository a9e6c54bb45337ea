import request from 'supertest';
import { basicAuth, type Harness, startHarness, track } from './support/harness.js';

describe('deduplication by messageId', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ DEDUP_WINDOW: '10m' });
  });
  afterAll(async () => {
    await h.close();
  });

  it('queues a batch once, remembers every messageId for the window, and deduplicates a resend', async () => {
    const batch = [track({ messageId: 'dedup-a' }), track({ messageId: 'dedup-b' }), track({ messageId: 'dedup-c' })];
    const first = await request(h.url).post('/v1/batch').set('authorization', basicAuth()).send({ batch });
    expect(first.status).toBe(200);
    expect(first.body).toMatchObject({ accepted: 3, queued: 3, deduplicated: 0 });

    for (const id of ['dedup-a', 'dedup-b', 'dedup-c']) {
      const ttl = await h.redis.pttl(`${h.prefix}:dedup:${id}`);
      expect(ttl).toBeGreaterThan(9 * 60_000);
      expect(ttl).toBeLessThanOrEqual(10 * 60_000);
    }

    const again = await request(h.url).post('/v1/batch').set('authorization', basicAuth()).send({ batch });
    expect(again.status).toBe(200);
    expect(again.body).toMatchObject({ accepted: 3, queued: 0, deduplicated: 3 });

    await h.kable.waitForEvents(3);
    expect([...h.kable.arrivals.entries()].sort()).toEqual([
      ['dedup-a', 1],
      ['dedup-b', 1],
      ['dedup-c', 1],
    ]);
  });
});
