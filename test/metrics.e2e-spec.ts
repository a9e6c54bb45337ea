import { readFileSync } from 'node:fs';
import request from 'supertest';
import { basicAuth, type Harness, startHarness, track } from './support/harness.js';
import { waitFor } from './support/wait.js';

describe('GET /metrics', () => {
  let h: Harness;

  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(async () => {
    await h.close();
  });

  it('reports queue depth by state, the Engage gauges and Redis memory', async () => {
    // A 401 from Kable fails the job for good, so the failed count moves.
    h.kable.respondWith(() => ({ status: 401, body: { message: 'Unauthorized' } }));
    const res = await request(h.url).post('/v1/track').set('authorization', basicAuth()).send(track());
    expect(res.status).toBe(200);
    const text = await waitFor(
      async () => (await request(h.url).get('/metrics')).text,
      (t) => t.includes('bullmq_queue_jobs{queue="kable-delivery",state="failed"} 1'),
    );
    expect(text).toContain('bullmq_queue_jobs{queue="kable-delivery",state="waiting"} 0');
    expect(text).toContain('kable_events_failed_total{status="401"} 1');
    for (const name of [
      'engage_audience_members',
      'engage_pending_changes',
      'engage_last_sync_duration_seconds',
      'engage_last_sync_success',
      'segment_messages_received_total',
      'kable_request_duration_seconds',
      'kable_delivery_lag_seconds',
      'redis_memory_used_bytes',
      'redis_memory_max_bytes',
    ]) {
      expect(text).toContain(`# TYPE ${name} `);
    }
  });

  it('serves every metric the sample Grafana dashboard queries', async () => {
    const dashboard = readFileSync(new URL('../ops/grafana-dashboard.json', import.meta.url), 'utf8');
    const used = new Set(
      [...dashboard.matchAll(/\b((?:segment|kable|ingest|bullmq|engage|redis)_[a-z_]+)/g)].map((m) =>
        m.at(1)!.replace(/_(bucket|sum|count)$/, ''),
      ),
    );
    expect(used.size).toBeGreaterThanOrEqual(15);
    const text = (await request(h.url).get('/metrics')).text;
    for (const name of used) expect(text).toContain(`# TYPE ${name} `);
  });
});
