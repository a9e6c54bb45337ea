import request from 'supertest';
import { generationMs } from '../src/ingest/dedup-layout.js';
import { DedupStore } from '../src/ingest/dedup.store.js';
import { basicAuth, type Harness, startHarness, track } from './support/harness.js';

const WINDOW = 10 * 60_000;

/** How long after `acceptedAt` the window forgets each id: at least DEDUP_WINDOW, at most a generation (and a minute) more. */
async function rememberedFor(h: Harness, ids: string[], acceptedAt: number): Promise<number[]> {
  const store = h.app.get(DedupStore);
  return Promise.all(ids.map(async (id) => ((await store.lookup(id))?.expiresAt ?? 0) - acceptedAt));
}

describe.each([
  ['one shard', {}],
  ['three shards (REDIS_SHARDS=3)', { REDIS_SHARDS: '3' }],
])('deduplication by messageId, %s', (_, env) => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ DEDUP_WINDOW: '10m', ...env });
  });
  afterAll(async () => {
    await h.close();
  });

  it('queues a batch once, remembers every messageId for the window, and deduplicates a resend', async () => {
    const ids = ['dedup-a', 'dedup-b', 'dedup-c', 'dedup-d', 'dedup-e', 'dedup-f'];
    const batch = ids.map((messageId) => track({ messageId }));
    const sentAt = Date.now();
    const first = await request(h.url).post('/v1/batch').set('authorization', basicAuth()).send({ batch });
    expect(first.status).toBe(200);
    expect(first.body).toMatchObject({ accepted: 6, queued: 6, deduplicated: 0 });

    for (const kept of await rememberedFor(h, ids, sentAt)) {
      expect(kept).toBeGreaterThanOrEqual(WINDOW);
      expect(kept).toBeLessThanOrEqual(WINDOW + generationMs(WINDOW) + 60_000 + 5_000);
    }

    const again = await request(h.url).post('/v1/batch').set('authorization', basicAuth()).send({ batch });
    expect(again.status).toBe(200);
    expect(again.body).toMatchObject({ accepted: 6, queued: 0, deduplicated: 6 });

    await h.kable.waitForEvents(6);
    expect([...h.kable.arrivals.entries()].sort()).toEqual(ids.map((id) => [id, 1]));
  });

  it('stores concurrent requests together (group commit), each answered for its own messages, repeats queued once', async () => {
    const before = h.kable.events.length;
    const jobsBefore = await h.jobsCreated();
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
    const jobs = (await h.jobsCreated()) - jobsBefore;
    process.stdout.write(`[group-commit] 120 concurrent requests were stored as ${jobs} jobs\n`);
    expect(jobs).toBeLessThan(60);
    expect(jobs).toBeGreaterThan(0);
    // And each is deduplicated by any later request.
    const later = await request(h.url)
      .post('/v1/batch')
      .set('authorization', basicAuth())
      .send({ batch: ids.slice(0, 60).map((messageId) => track({ messageId })) });
    expect(later.body).toMatchObject({ accepted: 60, queued: 0, deduplicated: 60 });
  });

  it('tells an id apart from one that differs in a single character, and from a prefix of it', async () => {
    const base = 'near-0123456789abcdef';
    await request(h.url)
      .post('/v1/track')
      .set('authorization', basicAuth())
      .send(track({ messageId: base }))
      .expect(200);
    const near = [`${base.slice(0, -1)}e`, base.slice(0, -1), `${base}0`, base.toUpperCase()];
    const res = await request(h.url)
      .post('/v1/batch')
      .set('authorization', basicAuth())
      .send({ batch: near.map((messageId) => track({ messageId })) });
    expect(res.body).toMatchObject({ accepted: 4, queued: 4, deduplicated: 0 });
  });
});
