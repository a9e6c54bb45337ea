import { createHmac } from 'node:crypto';
import request from 'supertest';
import { DedupStore } from '../src/ingest/dedup.store.js';
import { basicAuth, type Harness, startHarness, track, WRITE_KEY } from './support/harness.js';

/** Jobs ever added to the delivery queue (BullMQ's job id counter). */
async function queuedJobs(h: Harness): Promise<number> {
  return Number((await h.redis.get(h.key('kable-delivery', 'id'))) ?? 0);
}

describe('ingest: auth, validation, deduplication', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(async () => {
    await h.close();
  });
  beforeEach(() => h.kable.reset());

  it('answers 401 to a missing or unknown write key and queues nothing', async () => {
    const before = await queuedJobs(h);
    const noAuth = await request(h.url).post('/v1/track').send(track());
    expect(noAuth.status).toBe(401);
    expect(noAuth.body).toEqual({
      statusCode: 401,
      error: 'Unauthorized',
      message: 'missing or unknown write key: send it as the HTTP Basic user name with an empty password, or as "writeKey" in the body',
    });
    const wrong = await request(h.url)
      .post('/v1/batch')
      .set('authorization', basicAuth('wk_wrong'))
      .send({ batch: [track()] });
    expect(wrong.status).toBe(401);
    const wrongInBody = await request(h.url)
      .post('/v1/batch')
      .send({ writeKey: 'nope', batch: [track()] });
    expect(wrongInBody.status).toBe(401);
    expect(await queuedJobs(h)).toBe(before);
  });

  it('accepts the write key in the body and any of the configured keys', async () => {
    expect(
      (
        await request(h.url)
          .post('/v1/batch')
          .send({ writeKey: WRITE_KEY, batch: [track()] })
      ).status,
    ).toBe(200);
    expect((await request(h.url).post('/v1/track').set('authorization', basicAuth('wk_other')).send(track())).status).toBe(200);
    await h.kable.waitForEvents(2);
  });

  it('lists invalid messages of a batch by index with the reason and delivers only the valid ones', async () => {
    const good = track();
    const res = await request(h.url)
      .post('/v1/batch')
      .set('authorization', basicAuth())
      .send({
        batch: [track({ event: '' }), good, { type: 'track', event: 'x', messageId: 'no-user' }, track({ timestamp: 'not a date' })],
      });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      success: true,
      accepted: 1,
      queued: 1,
      deduplicated: 0,
      skipped: 0,
      rejected: [
        { index: 0, messageId: expect.any(String), code: 'missing_event', error: 'event is required on a track call (a non-empty string)' },
        { index: 2, messageId: 'no-user', code: 'missing_identity', error: 'userId or anonymousId is required (a non-empty string)' },
        {
          index: 3,
          messageId: expect.any(String),
          code: 'invalid_timestamp',
          error: 'timestamp must be an ISO-8601 date-time such as 2022-01-09T09:32:01Z',
        },
      ],
    });
    await h.kable.waitForEvents(1);
    expect(h.kable.events.map((e) => e.transactionId)).toEqual([good.messageId]);
  });

  it('answers 400 when no message of a batch is valid, and to a single invalid message', async () => {
    const res = await request(h.url)
      .post('/v1/batch')
      .set('authorization', basicAuth())
      .send({ batch: [{ type: 'track' }] });
    expect(res.status).toBe(400);
    expect(res.body.message).toBe('no message in the request is valid');
    expect(res.body.rejected).toEqual([
      { index: 0, code: 'missing_identity', error: 'userId or anonymousId is required (a non-empty string)' },
    ]);
    const single = await request(h.url)
      .post('/v1/track')
      .set('authorization', basicAuth())
      .send(track({ messageId: 'x'.repeat(101) }));
    expect(single.status).toBe(400);
    expect(single.body).toEqual({
      statusCode: 400,
      error: 'Bad Request',
      code: 'invalid_message_id',
      message: 'messageId is 101 characters; the limit is 100',
    });
  });

  it('answers 400 to a body that is not JSON and 413 to bodies over the limits', async () => {
    const bad = await request(h.url)
      .post('/v1/track')
      .set('authorization', basicAuth())
      .set('content-type', 'application/json')
      .send('{"event":');
    expect(bad.status).toBe(400);
    expect(bad.body.message).toMatch(/^body is not valid JSON: /);
    const big = track({ properties: { blob: 'x'.repeat(33 * 1024) } });
    const tooBig = await request(h.url).post('/v1/track').set('authorization', basicAuth()).send(big);
    expect(tooBig.status).toBe(413);
    expect(tooBig.body.message).toMatch(/^body is \d+ bytes; the limit for \/v1\/track is 32768 bytes$/);
    const hugeBatch = await request(h.url)
      .post('/v1/batch')
      .set('authorization', basicAuth())
      .send({ batch: Array.from({ length: 20 }, () => big) });
    expect(hugeBatch.status).toBe(413);
    const tooMany = await request(h.url)
      .post('/v1/batch')
      .set('authorization', basicAuth())
      .send({ batch: Array.from({ length: 2501 }, () => ({})) });
    expect(tooMany.status).toBe(400);
    expect(tooMany.body.message).toBe('batch has 2501 messages; the limit is 2500');
  });

  it('rejects a single message over 32 KB inside a batch and keeps its neighbours', async () => {
    const small = track();
    const res = await request(h.url)
      .post('/v1/batch')
      .set('authorization', basicAuth())
      .send({ batch: [small, track({ properties: { blob: 'x'.repeat(33 * 1024) } })] });
    expect(res.status).toBe(200);
    expect(res.body.rejected).toEqual([expect.objectContaining({ index: 1, code: 'too_large' })]);
    await h.kable.waitForEvents(1);
    expect(h.kable.events.map((e) => e.transactionId)).toEqual([small.messageId]);
  });

  it('forwards a repeated messageId once, within a request and across requests', async () => {
    const message = track();
    const first = await request(h.url)
      .post('/v1/batch')
      .set('authorization', basicAuth())
      .send({ batch: [message, message] });
    expect(first.body).toMatchObject({ accepted: 2, queued: 1, deduplicated: 1 });
    await h.kable.waitForEvents(1);
    const again = await request(h.url).post('/v1/track').set('authorization', basicAuth()).send(message);
    expect(again.status).toBe(200);
    expect(again.body).toMatchObject({ accepted: 1, queued: 0, deduplicated: 1 });
    const other = track();
    await request(h.url).post('/v1/track').set('authorization', basicAuth()).send(other);
    await h.kable.waitForEvents(2);
    expect(h.kable.requests.flatMap((r) => r.events.map((e) => e.transactionId))).toEqual([message.messageId, other.messageId]);
    // Remembered for the default window (24 h), and at most half a window more.
    const kept = ((await h.app.get(DedupStore).lookup(message.messageId as string))?.expiresAt ?? 0) - Date.now();
    expect(kept).toBeGreaterThan(23.9 * 3_600_000);
    expect(kept).toBeLessThanOrEqual(36 * 3_600_000 + 60_000);
  });

  it('accepts other types without forwarding them, and counts every skip with its reason', async () => {
    const before = await queuedJobs(h);
    const res = await request(h.url)
      .post('/v1/batch')
      .set('authorization', basicAuth())
      .send({
        batch: [
          { type: 'identify', userId: 'u1', traits: { plan: 'pro' } },
          { type: 'page', userId: 'u1', name: 'Home' },
          track({ userId: undefined, anonymousId: 'anon-1' }),
        ],
      });
    expect(res.body).toMatchObject({ accepted: 3, queued: 0, skipped: 3 });
    const metrics = await request(h.url).get('/metrics');
    expect(metrics.text).toContain('segment_messages_skipped_total{type="identify",reason="not_forwarded"} 1');
    expect(metrics.text).toContain('segment_messages_skipped_total{type="page",reason="not_forwarded"} 1');
    expect(metrics.text).toContain('segment_messages_skipped_total{type="track",reason="missing_client_id"} 1');
    expect(await queuedJobs(h)).toBe(before);
  });
});

describe('ingest: webhooks', () => {
  const secret = 'whsec_0123456789abcdef';
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ SEGMENT_SHARED_SECRET: secret });
  });
  afterAll(async () => {
    await h.close();
  });

  const sign = (body: string) => createHmac('sha1', secret).update(body).digest('hex');

  it('accepts one message or an array signed with X-Signature', async () => {
    const one = JSON.stringify(track());
    const res = await request(h.url).post('/v1/webhook').set('content-type', 'application/json').set('x-signature', sign(one)).send(one);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ accepted: 1, queued: 1 });
    const many = JSON.stringify([track(), track()]);
    const res2 = await request(h.url).post('/v1/webhook').set('content-type', 'application/json').set('x-signature', sign(many)).send(many);
    expect(res2.body).toMatchObject({ accepted: 2, queued: 2 });
    await h.kable.waitForEvents(3);
  });

  it('refuses a missing or wrong signature, even with a valid write key', async () => {
    const body = JSON.stringify(track());
    const wrong = await request(h.url)
      .post('/v1/webhook')
      .set('content-type', 'application/json')
      .set('x-signature', sign(`${body} `))
      .send(body);
    expect(wrong.status).toBe(401);
    expect(wrong.body.message).toBe(
      'missing or invalid signature: X-Segment-Signature (or X-Signature) must be the hex HMAC-SHA1 of the body as sent, keyed by the shared secret',
    );
    const none = await request(h.url).post('/v1/webhook').set('authorization', basicAuth()).send(body);
    expect(none.status).toBe(401);
  });
});

describe('ingest: webhooks without a shared secret', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(async () => {
    await h.close();
  });

  it('requires a write key', async () => {
    expect((await request(h.url).post('/v1/webhook').send(track())).status).toBe(401);
    expect((await request(h.url).post('/v1/webhook').set('authorization', basicAuth()).send([track()])).status).toBe(200);
  });
});
