import request from 'supertest';
import { basicAuth, type Harness, startHarness, track } from './support/harness.js';
import { waitFor } from './support/wait.js';

const ADMIN_TOKEN = 'admin-token-for-dashboard-0123456789';

describe('queue dashboard at /admin/queues', () => {
  let h: Harness;

  beforeAll(async () => {
    h = await startHarness({ ADMIN_TOKEN });
  });
  afterAll(async () => {
    await h.close();
  });

  it.each(['/admin/queues', '/admin/queues/api/queues', '/admin/queues/static/js/main.js'])(
    'refuses %s without the admin token, and with a write key',
    async (path) => {
      for (const authorization of [undefined, basicAuth(), `Bearer ${ADMIN_TOKEN}-not`]) {
        const req = request(h.url).get(path);
        const res = await (authorization ? req.set('authorization', authorization) : req);
        expect(res.status).toBe(401);
        expect(res.headers['www-authenticate']).toBe('Basic realm="kable-destination admin"');
        expect(res.body).toMatchObject({ statusCode: 401, error: 'Unauthorized' });
      }
    },
  );

  it('serves the page with Basic auth (token as password) and lists the delivery queue with Bearer', async () => {
    const page = await request(h.url)
      .get('/admin/queues')
      .set('authorization', `Basic ${Buffer.from(`ops:${ADMIN_TOKEN}`).toString('base64')}`);
    expect(page.status).toBe(200);
    expect(page.headers['content-type']).toMatch(/text\/html/);
    expect(page.text).toContain('<base href="/admin/queues/" />');
    expect(page.text).toContain('<title>kable-destination</title>');

    await request(h.url).post('/v1/track').set('authorization', basicAuth()).send(track()).expect(200);
    await h.kable.waitForEvents(1);
    const api = await request(h.url).get('/admin/queues/api/queues').set('authorization', `Bearer ${ADMIN_TOKEN}`);
    expect(api.status).toBe(200);
    const names = (api.body as { queues: Array<{ name: string }> }).queues.map((q) => q.name);
    // One per shard on a Redis Cluster (`0.kable-delivery`, …), else just `kable-delivery`.
    const delivery = h.keys.shards > 1 ? h.keys.all().map((shard) => `${shard}.kable-delivery`) : ['kable-delivery'];
    expect(names).toEqual([...delivery, 'engage-sync']);
  });

  it('shows the events of a large (deflated) job decoded', async () => {
    const before = h.kable.events.length;
    const batch = Array.from({ length: 20 }, (_, i) => track({ messageId: `dashboard-${i}`, properties: { n: i } }));
    await request(h.url).post('/v1/batch').set('authorization', basicAuth()).send({ batch }).expect(200);
    await h.kable.waitForEvents(before + 20);
    type Listing = { queues: Array<{ name: string; jobs: Array<{ data: Record<string, unknown> }> }> };
    // The worker completes the job just after Kable answers; it is in one of the shards' queues.
    const listings = await waitFor(
      () =>
        Promise.all(
          h.dashboardQueueNames().map(async (name) => {
            const api = await request(h.url)
              .get(`/admin/queues/api/queues?activeQueue=${name}&status=completed&page=1`)
              .set('authorization', `Bearer ${ADMIN_TOKEN}`);
            expect(api.status).toBe(200);
            return { name, body: api.body as Listing };
          }),
        ),
      (all) => all.some(({ name, body }) => body.queues.some((q) => q.name === name && q.jobs.some((j) => j.data.count === 20))),
    );
    const job = listings
      .flatMap(({ name, body }) => body.queues.filter((q) => q.name === name))
      .flatMap((q) => q.jobs)
      .find((j) => j.data.count === 20);
    expect(job?.data).toMatchObject({ source: 'ingest', count: 20 });
    expect(job?.data.deflated).toBeUndefined();
    expect((job?.data.events as Array<{ transactionId: string }>).map((e) => e.transactionId)).toEqual(batch.map((m) => m.messageId));
  }, 20_000);

  it('is closed when ADMIN_TOKEN is not set', async () => {
    const closed = await startHarness();
    try {
      const res = await request(closed.url).get('/admin/queues').set('authorization', `Bearer ${ADMIN_TOKEN}`);
      expect(res.status).toBe(401);
      expect(res.body.message).toBe('the admin API is disabled: set ADMIN_TOKEN to enable it');
    } finally {
      await closed.close();
    }
  });
});
