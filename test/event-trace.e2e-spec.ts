import request from 'supertest';
import { parseJobRef } from '../src/platform/redis/keys.js';
import { basicAuth, type Harness, startHarness, track, waitForDrained } from './support/harness.js';
import { waitFor } from './support/wait.js';

const ADMIN_TOKEN = 'admin-token-for-trace-test-0123456789';
const admin = `Bearer ${ADMIN_TOKEN}`;

describe('GET /v1/events/:messageId and POST /v1/preview', () => {
  let h: Harness;

  beforeEach(async () => {
    h = await startHarness({ ADMIN_TOKEN, KABLE_PROPERTIES_MAPPINGS: 'segmentX:kableX' });
  });
  afterEach(async () => {
    await h.close();
  });

  const trace = (id: string, on: Harness = h) =>
    request(on.url)
      .get(`/v1/events/${encodeURIComponent(id)}`)
      .set('authorization', admin);

  /** Sends one track message with this messageId to /v1/track; expects 200. */
  const sendTrack = (messageId: string) =>
    request(h.url).post('/v1/track').set('authorization', basicAuth()).send(track({ messageId })).expect(200);

  /** Polls the trace until it has `status` (and, if given, its job is in `jobState`). */
  async function traceUntil(id: string, status: string, jobState?: string, on: Harness = h): Promise<Record<string, unknown>> {
    const { body } = await waitFor(
      async () => {
        const res = await trace(id, on);
        return { status: res.status, body: res.body as Record<string, unknown> & { job?: { state?: string } } };
      },
      (r) => r.status === 200 && r.body.status === status && (!jobState || r.body.job?.state === jobState),
    );
    return body;
  }

  it('tells delivered, skipped and rejected messages apart', async () => {
    const sent = track({ messageId: 'trace-delivered-1' });
    const res = await request(h.url)
      .post('/v1/batch')
      .set('authorization', basicAuth())
      .send({
        batch: [
          sent,
          { type: 'identify', userId: 'u1', messageId: 'trace-identify-1' },
          track({ messageId: 'trace-anon-1', userId: undefined, anonymousId: 'a1' }),
          { type: 'track', userId: 'u1', messageId: 'trace-bad-1' },
        ],
      });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ accepted: 3, queued: 1, skipped: 2 });
    await h.kable.waitForEvents(1);

    const delivered = await traceUntil('trace-delivered-1', 'delivered');
    expect(delivered).toEqual({
      messageId: 'trace-delivered-1',
      status: 'delivered',
      received: { at: expect.stringMatching(/Z$/), accepted: true, jobId: expect.any(String) },
      delivered: { at: expect.stringMatching(/Z$/), attempts: 1, kableRequestId: h.kable.requests.at(0)!.requestId },
    });

    expect((await trace('trace-identify-1')).body).toEqual({
      messageId: 'trace-identify-1',
      status: 'skipped',
      skipped: { at: expect.any(String), type: 'identify', reason: 'not_forwarded' },
    });
    expect((await trace('trace-anon-1')).body).toMatchObject({
      status: 'skipped',
      skipped: { type: 'track', reason: 'missing_client_id' },
    });
    expect((await trace('trace-bad-1')).body).toMatchObject({
      status: 'rejected',
      rejected: { code: 'missing_event', error: 'event is required on a track call (a non-empty string)' },
    });

    const unknown = await trace('never-sent');
    expect(unknown.status).toBe(404);
    expect(unknown.body.message).toMatch(/^no record of messageId "never-sent" in the deduplication window/);
    expect((await request(h.url).get('/v1/events/trace-delivered-1').set('authorization', basicAuth())).status).toBe(401);
  });

  it('records a job delivered whole with one key, and still names the Kable request of each event', async () => {
    const small = await startHarness({ ADMIN_TOKEN, KABLE_BATCH_SIZE: '3' });
    try {
      const ids = Array.from({ length: 8 }, (_, i) => `whole-job-${i}`);
      const res = await request(small.url)
        .post('/v1/batch')
        .set('authorization', basicAuth())
        .send({ batch: ids.map((messageId) => track({ messageId })) });
      expect(res.body).toMatchObject({ queued: 8 });
      await small.kable.waitForEvents(8);
      const carried = new Map(small.kable.requests.flatMap((r) => r.events.map((e) => [e.transactionId, r.requestId] as const)));
      expect(new Set(carried.values()).size).toBe(3); // 3 + 3 + 2 events

      for (const id of ids) {
        expect(await traceUntil(id, 'delivered', undefined, small)).toEqual({
          messageId: id,
          status: 'delivered',
          received: { at: expect.stringMatching(/Z$/), accepted: true, jobId: expect.any(String) },
          delivered: { at: expect.stringMatching(/Z$/), attempts: 1, kableRequestId: carried.get(id) },
        });
      }
      // One record for the job instead of one per event.
      expect(await small.keysMatching(`${small.prefix}:*:trace:*`)).toEqual([]);
      expect(await small.keysMatching(`${small.prefix}:*:job-trace:*`)).toHaveLength(1);
    } finally {
      await small.close();
    }
  });

  it('says when an event was accepted from its job, and from the job record once the job is gone', async () => {
    const before = Date.now();
    await sendTrack('trace-when-1');
    const delivered = await traceUntil('trace-when-1', 'delivered');
    const received = delivered.received as { at: string; jobId: string };
    const ref = parseJobRef(received.jobId);
    const job = await h.deliveryQueue(ref?.shard).getJob(ref?.id ?? '');
    expect(received.at).toBe(new Date(job?.timestamp ?? 0).toISOString());
    expect(Date.parse(received.at)).toBeGreaterThanOrEqual(before);
    // Completed jobs are trimmed; the job's trace record still says when it was queued.
    await job?.remove();
    expect((await trace('trace-when-1')).body).toEqual(delivered);
  });

  it('keeps showing a delivered event as delivered when a bad copy of it is sent later', async () => {
    await sendTrack('trace-copy-1');
    await traceUntil('trace-copy-1', 'delivered');
    const copy = await request(h.url)
      .post('/v1/batch')
      .set('authorization', basicAuth())
      .send({ batch: [{ type: 'track', userId: 'u1', messageId: 'trace-copy-1' }] });
    expect(copy.body).toMatchObject({ rejected: [{ messageId: 'trace-copy-1', code: 'missing_event' }] });
    expect((await trace('trace-copy-1')).body).toMatchObject({ status: 'delivered', delivered: { attempts: 1 } });
  });

  it('shows an event that Kable took at the second attempt as delivered, with 2 attempts', async () => {
    h.kable.respondWith((_events, { index }) => (index === 0 ? { status: 503, body: { message: 'busy' } } : undefined));
    await sendTrack('trace-second-try');
    const delivered = await traceUntil('trace-second-try', 'delivered');
    expect(delivered).toMatchObject({
      status: 'delivered',
      delivered: { attempts: 2, kableRequestId: h.kable.requests.at(1)!.requestId },
    });
  });

  it('shows a failed event with its attempts, status, answer and X-REQUEST-ID, and a retrying one', async () => {
    h.kable.respondWith((events) =>
      events.at(0)?.transactionId === 'trace-401'
        ? { status: 401, body: { message: 'Unauthorized' } }
        : { status: 503, body: { message: 'down for maintenance' } },
    );
    await sendTrack('trace-401');
    // The worker records the trace before BullMQ moves the job to failed.
    const failed = await traceUntil('trace-401', 'failed', 'failed');
    expect(failed).toMatchObject({
      status: 'failed',
      failure: { attempts: 1, status: 401, reason: 'HTTP 401', answer: '{"message":"Unauthorized"}' },
      job: { state: 'failed', attemptsMade: 1 },
    });
    expect((failed.failure as { kableRequestId: string }).kableRequestId).toBe(h.kable.requests.at(0)!.requestId);

    await sendTrack('trace-503');
    const retrying = await traceUntil('trace-503', 'retrying');
    expect(retrying).toMatchObject({ failure: { status: 503, reason: 'HTTP 503', answer: '{"message":"down for maintenance"}' } });
  });

  it('previews a mapping with no side effect', async () => {
    const message = track({ messageId: 'preview-1', properties: { segmentX: 'v', n: 1 } });
    const res = await request(h.url).post('/v1/preview').set('authorization', admin).send(message);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      wouldSend: { clientId: 'customer_1', timestamp: '2022-01-09T09:32:01Z', transactionId: 'preview-1', data: { kableX: 'v', n: 1 } },
    });
    const skipped = await request(h.url)
      .post('/v1/preview')
      .set('authorization', admin)
      .send({ type: 'page', userId: 'u', messageId: 'p2' });
    expect(skipped.body).toEqual({ skipped: { type: 'page', reason: 'not_forwarded' } });
    const invalid = await request(h.url)
      .post('/v1/preview')
      .set('authorization', admin)
      .send({ type: 'track', event: 'x', messageId: 'p3' });
    expect(invalid.body).toEqual({
      invalid: { code: 'missing_identity', error: 'userId or anonymousId is required (a non-empty string)' },
    });
    expect((await request(h.url).post('/v1/preview').set('authorization', basicAuth()).send(message)).status).toBe(401);

    await waitForDrained(h);
    expect(h.kable.requests).toHaveLength(0);
    const keys = await h.keysMatching(`${h.prefix}:*`);
    expect(keys.filter((k) => /preview-1|p2|p3/.test(k))).toEqual([]);
    expect((await trace('preview-1')).status).toBe(404);
  });

  it('keeps no trace keys with EVENT_TRACE_WINDOW=0, only the accepted record', async () => {
    const off = await startHarness({ ADMIN_TOKEN, EVENT_TRACE_WINDOW: '0' });
    try {
      const res = await request(off.url)
        .post('/v1/batch')
        .set('authorization', basicAuth())
        .send({ batch: [track({ messageId: 'untraced-1' }), { type: 'identify', userId: 'u1', messageId: 'untraced-2' }] });
      expect(res.status).toBe(200);
      await off.kable.waitForEvents(1);
      await waitForDrained(off); // the job completed: its trace records, were there any, are written
      expect(await off.keysMatching(`${off.prefix}:*:trace:*`)).toEqual([]);
      const accepted = await request(off.url).get('/v1/events/untraced-1').set('authorization', admin);
      expect(accepted.body).toMatchObject({ status: 'accepted', received: { accepted: true }, job: { state: 'completed' } });
      // With no trace, when it was accepted is known only while its job is kept.
      const jobId = (accepted.body as { received: { jobId: string } }).received.jobId;
      const ref = parseJobRef(jobId);
      await (await off.deliveryQueue(ref?.shard).getJob(ref?.id ?? ''))?.remove();
      expect((await request(off.url).get('/v1/events/untraced-1').set('authorization', admin)).body).toEqual({
        messageId: 'untraced-1',
        status: 'accepted',
        received: { accepted: true, jobId },
      });
      expect((await request(off.url).get('/v1/events/untraced-2').set('authorization', admin)).status).toBe(404);
    } finally {
      await off.close();
    }
  });
});
