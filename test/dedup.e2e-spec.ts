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
      const ttl = await h.redis.pttl(h.key('dedup', id));
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

  it('stores concurrent requests together (group commit), each answered for its own messages, repeats queued once', async () => {
    const before = h.kable.events.length;
    const jobsBefore = Number(await h.redis.get(h.key('kable-delivery', 'id')));
    // 120 concurrent single-event requests; messageIds group-0 … group-59, each sent twice.
    const ids = Array.from({ length: 120 }, (_, i) => `group-${i % 60}`);
    const answers = await Promise.all(
      ids.map((messageId, i) =>
        request(h.url)
          .post('/v1/track')
          .set('authorization', basicAuth())
          .send(track({ messageId, properties: { copy: i < 60 ? 'first' : 'second' } })),
      ),
    );
    expect(answers.map((a) => a.status)).toEqual(ids.map(() => 200));
    // Each id was queued by exactly one of its two requests; the other says deduplicated.
    const queuedBy = new Map<string, number>();
    answers.forEach((a, i) => {
      expect(a.body).toMatchObject({ accepted: 1, queued: expect.any(Number), deduplicated: 1 - (a.body as { queued: number }).queued });
      const id = ids.at(i)!;
      queuedBy.set(id, (queuedBy.get(id) ?? 0) + (a.body as { queued: number }).queued);
    });
    expect([...queuedBy.values()].every((n) => n === 1)).toBe(true);

    await h.kable.waitForEvents(before + 60);
    const groupIds = [...h.kable.arrivals.entries()].filter(([id]) => id.startsWith('group-'));
    expect(groupIds).toHaveLength(60);
    expect(groupIds.every(([, count]) => count === 1)).toBe(true);
    // Fewer jobs than requests: requests that arrived while others were being stored went together.
    const jobs = Number(await h.redis.get(h.key('kable-delivery', 'id'))) - jobsBefore;
    process.stdout.write(`[group-commit] 120 concurrent requests were stored as ${jobs} jobs\n`);
    expect(jobs).toBeLessThan(60);
    expect(jobs).toBeGreaterThan(0);
  });
});
