import request from 'supertest';
import { basicAuth, type Harness, startHarness, track, waitForDrained } from './support/harness.js';
import { waitFor } from './support/wait.js';

const ADMIN_TOKEN = 'admin-token-for-cross-origin-0123456789';
const BEARER = `Bearer ${ADMIN_TOKEN}`;
// What a browser sends once logged in to the dashboard (any user name, the token as password).
const LOGIN = `Basic ${Buffer.from(`ops:${ADMIN_TOKEN}`).toString('base64')}`;
const CROSS_ORIGIN =
  'cross-origin request refused: admin endpoints only accept requests from their own origin or from non-browser clients (curl, scripts); open the dashboard at its own address';
const NO_ADD_JOB =
  'the dashboard cannot add jobs: a job added here would reach Kable without validation or deduplication; send events to the ingest API (/v1/track, /v1/batch) instead';

// What a forged `<form enctype="text/plain">` sends: the service reads any content type as JSON.
const forgedDiscard = (ids: string[]) => JSON.stringify({ transactionIds: ids });
const forgedJob = JSON.stringify({
  name: 'deliver',
  data: { source: 'ingest', events: [{ clientId: 'victim', transactionId: 'forged-1', timestamp: '2026-01-01T00:00:00Z', data: {} }] },
});

describe('cross-origin browser requests to admin endpoints and the dashboard', () => {
  let h: Harness;
  // The dashboard's first delivery queue (`kable-delivery`, or `0.kable-delivery` on a Redis Cluster).
  let queueName: string;
  const addJob = () => `/admin/queues/api/queues/${queueName}/add`;
  const deadLetter = (id: string) => request(h.url).get(`/v1/dead-letters/${id}`).set('authorization', BEARER);
  const jobCount = () => h.jobTotal();

  beforeAll(async () => {
    h = await startHarness({ ADMIN_TOKEN });
    queueName = h.dashboardQueueNames()[0]!;
    // Three dead letters: Kable refuses them for good.
    h.kable.respondWith(() => ({ status: 401, body: { message: 'Unauthorized' } }));
    const batch = ['dl-same-origin', 'dl-old-browser', 'dl-curl'].map((messageId) => track({ messageId }));
    await request(h.url).post('/v1/batch').set('authorization', basicAuth()).send({ batch }).expect(200);
    for (const m of batch) {
      await waitFor(
        () => deadLetter(m.messageId as string),
        (res) => res.status === 200,
      );
    }
    h.kable.respondWith(undefined);
  });
  afterAll(async () => {
    await h?.close();
  });

  it.each([
    ['Sec-Fetch-Site: cross-site', { 'sec-fetch-site': 'cross-site', origin: 'http://evil.example' }],
    ['Sec-Fetch-Site: same-site', { 'sec-fetch-site': 'same-site', origin: 'http://admin.example' }],
    ['a foreign Origin (older browser, no Sec-Fetch-Site)', { origin: 'http://evil.example' }],
    ['Origin: null (sandboxed frame)', { origin: 'null' }],
  ])('refuses a forged dead-letter discard and a forged add-job with %s (403), even with the admin token', async (_, headers) => {
    const discard = await request(h.url)
      .post('/v1/dead-letters/discard')
      .set({ ...headers, authorization: BEARER, 'content-type': 'text/plain' })
      .send(forgedDiscard(['dl-same-origin', 'dl-old-browser', 'dl-curl']));
    expect(discard.status).toBe(403);
    expect(discard.body).toEqual({ statusCode: 403, error: 'Forbidden', message: CROSS_ORIGIN });

    const before = await jobCount();
    const add = await request(h.url)
      .post(addJob())
      .set({ ...headers, authorization: LOGIN, 'content-type': 'text/plain' })
      .send(forgedJob);
    expect(add.status).toBe(403);
    expect(add.body).toEqual({ statusCode: 403, error: 'Forbidden', message: CROSS_ORIGIN });
    expect(add.headers['www-authenticate']).toBeUndefined();

    // Refused before the token is checked: no login challenge for a forged request.
    const anonymous = await request(h.url)
      .post('/v1/dead-letters/discard')
      .set(headers)
      .send(forgedDiscard(['dl-curl']));
    expect(anonymous.status).toBe(403);

    for (const id of ['dl-same-origin', 'dl-old-browser', 'dl-curl']) expect((await deadLetter(id)).status).toBe(200);
    expect(await jobCount()).toBe(before);
  });

  it('lets same-origin browser requests and curl-style requests (no such headers) through', async () => {
    const sameOrigin = await request(h.url)
      .post('/v1/dead-letters/discard')
      .set({ 'sec-fetch-site': 'same-origin', origin: h.url, authorization: BEARER })
      .send({ transactionIds: ['dl-same-origin'] });
    expect(sameOrigin.status).toBe(200);
    expect(sameOrigin.body).toEqual({ discarded: 1, notFound: [], more: false });

    const oldBrowser = await request(h.url)
      .post('/v1/dead-letters/discard')
      .set({ origin: h.url, authorization: BEARER })
      .send({ transactionIds: ['dl-old-browser'] });
    expect(oldBrowser.status).toBe(200);
    expect(oldBrowser.body).toEqual({ discarded: 1, notFound: [], more: false });

    const curl = await request(h.url).delete('/v1/dead-letters/dl-curl').set('authorization', BEARER);
    expect(curl.status).toBe(200);
    expect(curl.body).toEqual({ discarded: 1 });

    // A cross-site GET (a link, an <img>) is not refused: reading needs no protection here, as
    // the browser does not let the other page read the answer.
    const link = await request(h.url).get('/v1/dead-letters').set({ 'sec-fetch-site': 'cross-site', authorization: BEARER });
    expect(link.status).toBe(200);
    expect(link.body).toMatchObject({ total: 0 });

    // The token is still needed, and the other admin endpoints answer same-origin browsers.
    const noToken = await request(h.url).post('/v1/dead-letters/discard').send({ all: true });
    expect(noToken.status).toBe(401);
    const preview = await request(h.url).post('/v1/preview').set({ 'sec-fetch-site': 'none', authorization: BEARER }).send(track());
    expect(preview.status).toBe(200);
  });

  it('refuses to add jobs from the dashboard, from any client; retry and clean keep working', async () => {
    const before = await jobCount();
    const requestsBefore = h.kable.requests.length;
    for (const headers of [{}, { 'sec-fetch-site': 'same-origin', origin: h.url }]) {
      const add = await request(h.url)
        .post(addJob())
        .set({ ...headers, authorization: BEARER })
        .send(JSON.parse(forgedJob) as object);
      expect(add.status).toBe(403);
      expect(add.body).toEqual({ statusCode: 403, error: 'Forbidden', message: NO_ADD_JOB });
    }
    // The token is still checked first.
    const anonymous = await request(h.url)
      .post(addJob())
      .send(JSON.parse(forgedJob) as object);
    expect(anonymous.status).toBe(401);

    const edit = await request(h.url)
      .patch(`/admin/queues/api/queues/${queueName}/1/update-data`)
      .set('authorization', BEARER)
      .send({ jobData: { source: 'ingest', events: [] } });
    expect(edit.status).toBe(403);
    expect(edit.body.message).toBe(
      "the dashboard cannot edit a job's data: it would reach Kable without validation; retry or remove the job, or send a corrected event to the ingest API",
    );

    expect(await jobCount()).toBe(before);
    await waitForDrained(h); // a queued job would have been delivered
    expect(h.kable.requests.length).toBe(requestsBefore);

    const retry = await request(h.url).put(`/admin/queues/api/queues/${queueName}/retry/failed`).set('authorization', BEARER);
    expect(retry.status).toBe(200);
    const clean = await request(h.url)
      .put(`/admin/queues/api/queues/${queueName}/clean/completed`)
      .set({ 'sec-fetch-site': 'same-origin', authorization: BEARER });
    expect(clean.status).toBe(200);
    const crossClean = await request(h.url)
      .put(`/admin/queues/api/queues/${queueName}/clean/completed`)
      .set({ 'sec-fetch-site': 'cross-site', authorization: BEARER });
    expect(crossClean.status).toBe(403);
    expect(crossClean.body.message).toBe(CROSS_ORIGIN);
  });

  it('serves the dashboard with framing forbidden', async () => {
    const page = await request(h.url).get('/admin/queues').set('authorization', LOGIN);
    expect(page.status).toBe(200);
    expect(page.headers['x-frame-options']).toBe('DENY');
    expect(page.headers['content-security-policy']).toBe("frame-ancestors 'none'");
  });

  // Browser pages on other origins may send to ingest only as CORS_ORIGINS allows (src/platform/http/cors.ts).
  it('leaves ingest alone: the cross-origin rule of admin endpoints does not apply to it', async () => {
    const res = await request(h.url)
      .post('/v1/track')
      .set({ 'sec-fetch-site': 'cross-site', authorization: basicAuth(), 'content-type': 'text/plain' })
      .send(JSON.stringify(track({ messageId: 'ingest-cross-site' })));
    expect(res.status).toBe(200);
    await waitFor(
      () => h.kable.events.map((e) => e.transactionId),
      (ids) => ids.includes('ingest-cross-site'),
    );
  });
});
