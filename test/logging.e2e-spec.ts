import { createHmac } from 'node:crypto';
import request from 'supertest';
import { basicAuth, type Harness, KABLE_API_KEY, startHarness, track, waitForDrained, WRITE_KEY } from './support/harness.js';
import { waitFor } from './support/wait.js';

const ADMIN_TOKEN = 'admin-token-for-log-test-0123456789';
const SHARED_SECRET = 'shared-secret-for-log-test-abcdef';

describe('structured logs', () => {
  let h: Harness;
  const lines: string[] = [];
  const parsed = () => lines.map((line) => JSON.parse(line) as Record<string, unknown>);

  beforeAll(async () => {
    h = await startHarness(
      { ADMIN_TOKEN, SEGMENT_SHARED_SECRET: SHARED_SECRET, LOG_LEVEL: 'debug' },
      { logStream: { write: (line: string) => void lines.push(line) } },
    );
  });
  afterAll(async () => {
    await h.close();
  });

  it('writes one JSON line per request and per Kable request, and never a secret', async () => {
    const message = track();
    const body = JSON.stringify(message);
    const signature = createHmac('sha1', SHARED_SECRET).update(body).digest('hex');
    const webhook = await request(h.url)
      .post('/v1/webhook')
      .set('content-type', 'application/json')
      .set('x-signature', signature)
      .set('x-request-id', 'req-from-caller-1')
      .send(body);
    expect(webhook.status).toBe(200);
    expect(webhook.headers['x-request-id']).toBe('req-from-caller-1');
    await h.kable.waitForEvents(1);

    // A wrong write key, a right one in the body, an admin call, a refused admin call.
    await request(h.url).post('/v1/track').set('authorization', basicAuth('wk_wrong_key_123')).send(track());
    await request(h.url)
      .post('/v1/batch')
      .send({ writeKey: WRITE_KEY, batch: [track()] });
    await request(h.url).get('/admin/queues/api/queues').set('authorization', `Bearer ${ADMIN_TOKEN}`);
    await request(h.url).post('/v1/preview').set('authorization', `Bearer ${ADMIN_TOKEN}`).send(track());
    await request(h.url).post('/v1/preview').set('authorization', `Bearer ${ADMIN_TOKEN}x`).send(track());
    // Credentials in a query string (a tool that puts them there): values never reach the log.
    await request(h.url).get(`/v1/dead-letters?access_token=${ADMIN_TOKEN}&writeKey=${WRITE_KEY}`).set('x-request-id', 'req-query-1');
    await h.kable.waitForEvents(2);
    // Every line is written: the Kable requests' (the queue is drained) and the last request's.
    await waitForDrained(h);
    await waitFor(parsed, (records) => records.some((r) => (r.req as { id?: string } | undefined)?.id === 'req-query-1'));

    const all = lines.join('');
    for (const secret of [
      WRITE_KEY,
      Buffer.from(`${WRITE_KEY}:`).toString('base64'),
      KABLE_API_KEY,
      ADMIN_TOKEN,
      SHARED_SECRET,
      signature,
    ]) {
      expect(all).not.toContain(secret);
    }

    const records = parsed();
    const webhookLine = records.find((r) => (r.req as { id?: string } | undefined)?.id === 'req-from-caller-1');
    expect(webhookLine).toMatchObject({
      level: 30,
      msg: 'POST /v1/webhook 200',
      req: { id: 'req-from-caller-1', method: 'POST', url: '/v1/webhook' },
      res: { statusCode: 200 },
    });
    expect(typeof webhookLine?.responseTime).toBe('number');
    expect(records.find((r) => (r.req as { id?: string } | undefined)?.id === 'req-query-1')).toMatchObject({
      level: 40,
      msg: 'GET /v1/dead-letters?access_token=[redacted]&writeKey=[redacted] 401',
      req: { method: 'GET', url: '/v1/dead-letters?access_token=[redacted]&writeKey=[redacted]' },
      res: { statusCode: 401 },
    });
    const refused = records.find((r) => r.msg === 'POST /v1/track 401');
    expect(refused).toMatchObject({ level: 40, res: { statusCode: 401 } });
    expect((refused?.req as { id: string }).id).toMatch(/^[0-9a-f-]{36}$/);

    const kableLines = records.filter((r) => r.context === 'KableDelivery' && r.events !== undefined);
    expect(kableLines.length).toBeGreaterThanOrEqual(2);
    expect(kableLines[0]).toMatchObject({
      level: 30,
      msg: 'Kable POST /api/v1/events/create: HTTP 200',
      events: 1,
      outcome: 'ok',
      status: 200,
      kableRequestId: h.kable.requests.at(0)!.requestId,
    });
    expect(typeof kableLines.at(0)!.durationMs).toBe('number');
  });
});
