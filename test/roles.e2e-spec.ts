import request from 'supertest';
import { createApp } from '../src/app.setup.js';
import { loadConfig } from '../src/platform/config/config.js';
import { basicAuth, type Harness, KABLE_API_KEY, KABLE_CLIENT_ID, startHarness, track, WRITE_KEY } from './support/harness.js';
import { waitFor } from './support/wait.js';

describe('SERVICE_ROLE: API and worker as separate processes', () => {
  let api: Harness;
  afterEach(async () => {
    await api.close();
  });

  it('an API-only instance queues; a worker-only instance on the same Redis delivers', async () => {
    api = await startHarness({ SERVICE_ROLE: 'api' });
    const messages = [track(), track()];
    await request(api.url).post('/v1/batch').set('authorization', basicAuth()).send({ batch: messages }).expect(200);
    // Nobody delivers yet: no worker is connected to the delivery queue (each shard's), and the job waits there.
    const queue = api.deliveryQueue();
    expect(await queue.getWorkersCount()).toBe(0);
    expect(await api.jobCounts('waiting', 'active')).toEqual({ waiting: 1, active: 0 });
    expect(api.kable.requests).toHaveLength(0);

    const worker = await createApp(loadConfig({ ...api.config.raw, SERVICE_ROLE: 'worker' }), { logger: false });
    await worker.listen({ port: 0, host: '127.0.0.1' });
    try {
      await waitFor(
        () => queue.getWorkersCount(),
        (workers) => workers > 0,
      );
      await api.kable.waitForEvents(2);
      expect(api.kable.events.map((e) => e.transactionId).sort()).toEqual(messages.map((m) => m.messageId).sort());
      const port = (worker.getHttpServer().address() as { port: number }).port;
      // A worker-only instance serves health and metrics, but no ingest and no admin (dashboard included).
      const workerUrl = `http://127.0.0.1:${port}`;
      await request(workerUrl).get('/health/ready').expect(200);
      await request(workerUrl).get('/metrics').expect(200);
      await request(workerUrl).post('/v1/track').set('authorization', basicAuth()).send(track()).expect(404);
      await request(workerUrl).get('/v1/dead-letters').expect(404);
      await request(workerUrl).get('/admin/queues').expect(404);
    } finally {
      await worker.close();
    }
  });
});

describe('Redis unavailable', () => {
  it('answers 503 (never 200) when the messages cannot be stored', async () => {
    const config = loadConfig({
      KABLE_API_KEY,
      KABLE_CLIENT_ID,
      KABLE_BASE_URL: 'http://127.0.0.1:9',
      SEGMENT_WRITE_KEYS: WRITE_KEY,
      REDIS_URL: 'redis://127.0.0.1:1',
      SERVICE_ROLE: 'api',
    });
    const app = await createApp(config, { logger: false });
    await app.listen({ port: 0, host: '127.0.0.1' });
    try {
      const port = (app.getHttpServer().address() as { port: number }).port;
      const started = Date.now();
      const res = await request(`http://127.0.0.1:${port}`).post('/v1/track').set('authorization', basicAuth()).send(track());
      expect(res.status).toBe(503);
      expect(res.headers['retry-after']).toBe('5');
      expect(res.body).toEqual({
        statusCode: 503,
        error: 'Service Unavailable',
        message: 'the messages could not be stored (Redis is unavailable); nothing was accepted, retry later',
      });
      expect(Date.now() - started).toBeLessThan(5000);
      const ready = await request(`http://127.0.0.1:${port}`).get('/health/ready');
      expect(ready.status).toBe(503);
      expect(ready.body.error.redis.status).toBe('down');
    } finally {
      await app.close();
    }
  }, 20_000);
});
