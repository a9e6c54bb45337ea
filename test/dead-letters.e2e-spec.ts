import request from 'supertest';
import { type DeadLetter, DeadLetterStore, type StoredDeadLetter } from '../src/delivery/dead-letter.store.js';
import { KableEmulator } from '../tools/kable-emulator.js';
import { basicAuth, type Harness, KABLE_API_KEY, KABLE_CLIENT_ID, startHarness, track, WRITE_KEY } from './support/harness.js';
import { waitFor } from './support/wait.js';

const ADMIN_TOKEN = 'admin-token-0123456789abcdef';
const admin = `Bearer ${ADMIN_TOKEN}`;

interface ListAnswer {
  total: number;
  count: number;
  deadLetters: DeadLetter[];
  next: string | null;
}

async function list(h: Harness, query = ''): Promise<ListAnswer> {
  const res = await request(h.url).get(`/v1/dead-letters${query}`).set('authorization', admin);
  expect(res.status).toBe(200);
  return res.body as ListAnswer;
}

async function sendBatch(h: Harness, messages: Record<string, unknown>[]): Promise<void> {
  const res = await request(h.url).post('/v1/batch').set('authorization', basicAuth()).send({ batch: messages });
  expect(res.status).toBe(200);
  expect(res.body.queued).toBe(messages.length);
}

describe('dead letters: the wrong Kable API key for an hour, fixed, replayed', () => {
  let kable: KableEmulator;
  let h: Harness | undefined;

  beforeEach(async () => {
    kable = new KableEmulator({ clientId: KABLE_CLIENT_ID, apiKey: KABLE_API_KEY });
    await kable.start();
  });
  afterEach(async () => {
    await h?.close();
    await kable.stop();
  });

  it('keeps every 401 with Kable’s answer and X-REQUEST-ID; after a restart with the right key, replay bills each event once', async () => {
    h = await startHarness({ KABLE_API_KEY: 'sk_test.wrong-key-000000000', ADMIN_TOKEN }, { kable });
    const prefix = h.prefix;
    const messages = Array.from({ length: 25 }, (_, i) => track({ userId: `customer_${i % 3}`, messageId: `hour-of-401-${i}` }));
    await sendBatch(h, messages.slice(0, 20));
    for (const message of messages.slice(20)) {
      const res = await request(h.url).post('/v1/track').set('authorization', basicAuth()).send(message);
      expect(res.status).toBe(200);
    }

    const failed = await waitFor(
      () => list(h!, '?limit=1000'),
      (answer) => answer.total === 25,
    );
    expect(kable.count).toBe(0);
    expect(failed.count).toBe(25);
    expect(failed.next).toBeNull();
    const byId = new Map(failed.deadLetters.map((l) => [l.event.transactionId, l]));
    expect([...byId.keys()].sort()).toEqual(messages.map((m) => m.messageId).sort());
    const rejected = new Set(kable.requests.filter((r) => r.status === 401).map((r) => r.requestId));
    for (const message of messages) {
      const letter = byId.get(message.messageId as string)!;
      expect(letter).toMatchObject({
        event: {
          clientId: message.userId,
          timestamp: '2022-01-09T09:32:01Z',
          transactionId: message.messageId,
          data: { endpoint: '/v1/things', objectCount: 1 },
        },
        reason: 'HTTP 401',
        status: 401,
        body: '{"message":"Unauthorized"}',
        attempts: 1,
      });
      expect(rejected.has(letter.requestId!)).toBe(true);
      expect(letter.failedAt).toBeGreaterThanOrEqual(letter.queuedAt);
    }

    // Inspect one.
    const one = await request(h.url).get('/v1/dead-letters/hour-of-401-7').set('authorization', admin);
    expect(one.status).toBe(200);
    expect(one.body).toEqual(byId.get('hour-of-401-7'));

    // Replaying with the key still wrong loses nothing: the events come back as dead letters.
    const early = await request(h.url)
      .post('/v1/dead-letters/replay')
      .set('authorization', admin)
      .send({ transactionIds: ['hour-of-401-0'] });
    expect(early.status).toBe(200);
    expect(early.body).toEqual({ replayed: 1, notFound: [], more: false });
    await waitFor(
      () => request(h!.url).get('/v1/dead-letters/hour-of-401-0').set('authorization', admin),
      (res) => res.status === 200 && (res.body as DeadLetter).failedAt > byId.get('hour-of-401-0')!.failedAt,
    );
    expect((await list(h)).total).toBe(25);

    // The operator fixes the key and restarts the service on the same Redis.
    await h.close({ keepKeys: true });
    h = await startHarness({ ADMIN_TOKEN }, { kable, prefix });
    expect((await list(h)).total).toBe(25);

    const replay = await request(h.url).post('/v1/dead-letters/replay').set('authorization', admin).send({ all: true });
    expect(replay.status).toBe(200);
    expect(replay.body).toEqual({ replayed: 25, more: false });
    expect((await list(h)).total).toBe(0);

    await kable.waitForEvents(25);
    await waitFor(
      () => h!.backlogEvents(),
      (events) => events === 0,
    );
    expect(kable.events.map((e) => e.transactionId).sort()).toEqual(messages.map((m) => m.messageId).sort());
    for (const message of messages) expect(kable.arrivals.get(message.messageId as string)).toBe(1);
    const billed = new Map(kable.events.map((e) => [e.transactionId, e]));
    for (const message of messages) {
      expect(billed.get(message.messageId as string)).toEqual({
        clientId: message.userId,
        timestamp: '2022-01-09T09:32:01Z',
        transactionId: message.messageId,
        data: { endpoint: '/v1/things', objectCount: 1 },
      });
    }
    expect((await list(h)).total).toBe(0);
  });
});

describe('dead letters: filters, inspect, discard, replay by id and by filter', () => {
  let h: Harness;

  beforeEach(async () => {
    h = await startHarness({ ADMIN_TOKEN, DEAD_LETTER_RETENTION: '2d' });
  });
  afterEach(async () => {
    await h.close();
  });

  it('filters by status, reason text, clientId and time, pages with a cursor, discards and replays what it selects', async () => {
    h.kable.respondWith(() => ({ status: 403, body: { message: 'Forbidden: plan does not include usage' } }));
    await sendBatch(
      h,
      [0, 1, 2].map((i) => track({ userId: 'cust_a', messageId: `forbidden-${i}` })),
    );
    await waitFor(
      () => list(h),
      (answer) => answer.total === 3,
    );
    const between = new Date().toISOString();

    // 400 for any batch holding a cust_b event: the batcher splits until the bad events are alone.
    h.kable.respondWith((events) =>
      events.some((e) => e.clientId === 'cust_b') ? { status: 400, body: { message: 'invalid data for cust_b' } } : undefined,
    );
    await sendBatch(h, [
      track({ userId: 'cust_b', messageId: 'bad-0' }),
      track({ userId: 'cust_c', messageId: 'good-0' }),
      track({ userId: 'cust_b', messageId: 'bad-1' }),
    ]);
    await waitFor(
      () => list(h),
      (answer) => answer.total === 5,
    );
    await h.kable.waitForEvents(1);
    expect(h.kable.events.map((e) => e.transactionId)).toEqual(['good-0']);

    expect((await request(h.url).get('/metrics')).text).toMatch(/^kable_dead_letters 5$/m);

    const ids = (answer: ListAnswer) => answer.deadLetters.map((l) => l.event.transactionId).sort();
    expect(ids(await list(h, '?status=403'))).toEqual(['forbidden-0', 'forbidden-1', 'forbidden-2']);
    expect(ids(await list(h, '?status=400'))).toEqual(['bad-0', 'bad-1']);
    expect(ids(await list(h, '?status=400,403'))).toHaveLength(5);
    expect(ids(await list(h, '?status=none'))).toEqual([]);
    expect(ids(await list(h, '?reason=PLAN%20does%20not'))).toEqual(['forbidden-0', 'forbidden-1', 'forbidden-2']);
    expect(ids(await list(h, '?clientId=cust_b'))).toEqual(['bad-0', 'bad-1']);
    expect(ids(await list(h, `?until=${encodeURIComponent(between)}`))).toEqual(['forbidden-0', 'forbidden-1', 'forbidden-2']);
    expect(ids(await list(h, `?since=${encodeURIComponent(between)}`))).toEqual(['bad-0', 'bad-1']);
    expect(ids(await list(h, '?since=1h'))).toHaveLength(5);
    expect(ids(await list(h, '?since=2099-01-01T00:00:00Z'))).toEqual([]);
    const d = (await list(h, '?status=400')).deadLetters[0];
    expect(d).toMatchObject({ status: 400, reason: 'HTTP 400', body: '{"message":"invalid data for cust_b"}', attempts: 1 });

    // Pages of 2, newest first, following the cursor.
    const seen: string[] = [];
    let cursor = '';
    for (let page = 0; page < 5; page++) {
      const answer = await list(h, `?limit=2${cursor}`);
      seen.push(...answer.deadLetters.map((l) => l.event.transactionId));
      if (answer.next === null) break;
      cursor = `&cursor=${answer.next}`;
    }
    expect(seen.sort()).toEqual(['bad-0', 'bad-1', 'forbidden-0', 'forbidden-1', 'forbidden-2']);

    // Retention is DEAD_LETTER_RETENTION (2 days here).
    const ttl = await h.redis.pttl(h.key('dead', 'event', 'bad-0'));
    expect(ttl).toBeGreaterThan(2 * 86_400_000 - 60_000);
    expect(ttl).toBeLessThanOrEqual(2 * 86_400_000);

    // Discard one, then by filter.
    expect((await request(h.url).delete('/v1/dead-letters/bad-0').set('authorization', admin)).body).toEqual({ discarded: 1 });
    const again = await request(h.url).delete('/v1/dead-letters/bad-0').set('authorization', admin);
    expect(again.status).toBe(404);
    expect(again.body.message).toBe('no dead letter with transactionId "bad-0"');
    const discarded = await request(h.url).post('/v1/dead-letters/discard').set('authorization', admin).send({ status: 400 });
    expect(discarded.body).toEqual({ discarded: 1, more: false });
    expect(ids(await list(h))).toEqual(['forbidden-0', 'forbidden-1', 'forbidden-2']);

    // Kable accepts again: replay one by id (and an unknown id), then the rest by filter.
    h.kable.respondWith(undefined);
    const byId = await request(h.url)
      .post('/v1/dead-letters/replay')
      .set('authorization', admin)
      .send({ transactionIds: ['forbidden-1', 'no-such-event'] });
    expect(byId.body).toEqual({ replayed: 1, notFound: ['no-such-event'], more: false });
    await h.kable.waitForEvents(2);
    const byFilter = await request(h.url).post('/v1/dead-letters/replay').set('authorization', admin).send({ reason: 'forbidden' });
    expect(byFilter.body).toEqual({ replayed: 2, more: false });
    await h.kable.waitForEvents(4);
    expect(h.kable.events.map((e) => e.transactionId).sort()).toEqual(['forbidden-0', 'forbidden-1', 'forbidden-2', 'good-0']);
    for (const id of ['forbidden-0', 'forbidden-1', 'forbidden-2']) expect(h.kable.arrivals.get(id)).toBe(1);
    expect((await list(h)).total).toBe(0);
    expect(await request(h.url).get('/v1/dead-letters/forbidden-0').set('authorization', admin)).toMatchObject({ status: 404 });
  });

  it('refuses unclear requests with a message that says what to send', async () => {
    const post = (path: string, body: unknown) =>
      request(h.url)
        .post(path)
        .set('authorization', admin)
        .send(body as object);
    const usage = 'send { "transactionIds": [...] }, a filter such as { "status": 401, "since": "2h" }, or { "all": true }';
    expect((await post('/v1/dead-letters/replay', {})).body).toEqual({
      statusCode: 400,
      error: 'Bad Request',
      message: `say exactly one of transactionIds, a filter or all: ${usage}`,
    });
    expect((await post('/v1/dead-letters/replay', { all: false })).body.message).toBe('all must be true');
    expect((await post('/v1/dead-letters/discard', { all: true, status: 401 })).status).toBe(400);
    expect((await post('/v1/dead-letters/replay', { transactionIds: [] })).body.message).toBe(
      'transactionIds must be a non-empty array of transactionIds (strings of at most 100 characters)',
    );
    expect((await post('/v1/dead-letters/replay', { stauts: 401 })).body.message).toBe(`unknown field(s) stauts: ${usage}`);
    expect((await post('/v1/dead-letters/replay', [1])).status).toBe(400);
    const bad = await request(h.url).get('/v1/dead-letters?status=abc&since=yesterday&limit=0').set('authorization', admin);
    expect(bad.status).toBe(400);
    expect(bad.body.message).toBe(
      'status must be an HTTP status such as 401, a comma-separated list such as 401,403, or "none" (network errors); since must be an ISO-8601 date-time such as 2026-11-29T10:00:00Z, or a duration ago such as 2h',
    );
    const unknown = await request(h.url).get('/v1/dead-letters?satus=401').set('authorization', admin);
    expect(unknown.body.message).toBe('unknown query parameter(s) satus; use status, reason, clientId, since, until, limit, cursor');
    const limit = await request(h.url).get('/v1/dead-letters?limit=0').set('authorization', admin);
    expect(limit.body.message).toBe('limit must be a whole number from 1 to 1000');
    expect(WRITE_KEY).not.toBe(ADMIN_TOKEN);
  });
});

describe('DeadLetterStore on a real Redis', () => {
  let h: Harness;
  let store: DeadLetterStore;
  const letter = (id: string, status: number, failedAt: number): DeadLetter => ({
    event: { clientId: `c_${status}`, timestamp: '2022-01-09T09:32:01Z', transactionId: id, data: { n: 1 } },
    reason: `HTTP ${status}`,
    status,
    body: '{}',
    requestId: `r-${id}`,
    attempts: 1,
    queuedAt: failedAt - 1000,
    failedAt,
  });

  beforeEach(async () => {
    h = await startHarness({ SERVICE_ROLE: 'api' });
    store = h.app.get(DeadLetterStore);
  });
  afterEach(async () => {
    await h.close();
  });

  it('removes an entry only if it did not change since it was read (an event replayed and failed again is kept)', async () => {
    const t = Date.now() - 10_000;
    await store.add([letter('a', 401, t), letter('b', 401, t)]);
    const read = await store.getStored(['a', 'b']);
    await store.add([{ ...letter('a', 500, t + 5000), attempts: 2 }]);
    expect(await store.removeIfUnchanged(read.filter((s) => s !== undefined))).toEqual(['b']);
    expect(await store.get('a')).toMatchObject({ status: 500, attempts: 2 });
    expect(await store.get('b')).toBeUndefined();
    expect(await store.count()).toBe(1);
  });

  it('bulk work goes in chunks, skips what the filter leaves, and stops at its bound with more: true', async () => {
    const t = Date.now() - 3_600_000;
    // 1,300 letters over several index chunks, every third one a 403 among 401s.
    const letters = Array.from({ length: 1300 }, (_, i) => letter(`id-${String(i).padStart(4, '0')}`, i % 3 === 0 ? 403 : 401, t + i));
    await store.add(letters);
    const expected403 = letters.filter((l) => l.status === 403).map((l) => l.event.transactionId);
    const expected401 = letters.filter((l) => l.status === 401).map((l) => l.event.transactionId);

    const visited: string[] = [];
    const discard = async (entries: StoredDeadLetter[]) => {
      visited.push(...entries.map((e) => e.letter.event.transactionId));
      return store.removeIfUnchanged(entries);
    };
    expect(await store.forEachChunk({ statuses: [403] }, discard, 300)).toEqual({ more: true });
    expect(visited).toEqual(expected403.slice(0, 300));
    expect(await store.forEachChunk({ statuses: [403] }, discard, 300)).toEqual({ more: false });
    expect(visited).toEqual(expected403);
    expect(await store.count()).toBe(expected401.length);
    // A bound reached exactly at the end reports no more.
    const keepAll = () => Promise.resolve([] as string[]);
    const n401 = expected401.length;
    const visitedBefore = visited.length;
    expect(await store.forEachChunk({ statuses: [401], until: t + 99 }, keepAll, n401)).toEqual({ more: false });
    expect(await store.forEachChunk({}, keepAll, n401)).toEqual({ more: false });
    expect(await store.forEachChunk({}, keepAll, n401 - 1)).toEqual({ more: true });
    expect(visited.length).toBe(visitedBefore);

    // Listing with a filter follows the cursor across chunks, newest first.
    const listed: string[] = [];
    let cursor: number | undefined = 0;
    while (cursor !== undefined) {
      const page: { deadLetters: DeadLetter[]; next?: number } = await store.search(
        { statuses: [401], since: t + 100 },
        { cursor, limit: 250 },
      );
      listed.push(...page.deadLetters.map((l) => l.event.transactionId));
      cursor = page.next;
    }
    expect(listed).toEqual(expected401.filter((id) => Number(id.slice(3)) >= 100).reverse());
  });
});
