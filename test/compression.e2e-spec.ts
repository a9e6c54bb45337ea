import { randomUUID } from 'node:crypto';
import { deflateSync, gzipSync } from 'node:zlib';
import { request } from 'undici';
import { basicAuth, type Harness, startHarness, track, waitForDrained } from './support/harness.js';
import { waitFor } from './support/wait.js';

/** 10 MB of zeros: gzip squeezes it to about 10 KB, far under any request size limit. */
const BOMB = gzipSync(Buffer.alloc(10 * 1024 * 1024), { level: 9 });

describe('compressed request bodies (Content-Encoding) on /v1/batch, /v1/webhook and the single calls', () => {
  let h: Harness;

  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(async () => {
    await h.close();
  });
  beforeEach(() => h.kable.reset());

  async function post(path: string, body: Buffer, headers: Record<string, string>) {
    const res = await request(`${h.url}${path}`, {
      method: 'POST',
      headers: { authorization: basicAuth(), 'content-type': 'application/json', ...headers },
      body,
    });
    const text = await res.body.text();
    let json: { message?: string } & Record<string, unknown> = {};
    try {
      json = JSON.parse(text) as typeof json;
    } catch {
      // not JSON: asserted by the caller through `text`
    }
    return { status: res.statusCode, text, json };
  }

  /** Nothing but a sentinel sent afterwards reaches Kable (a condition, not a bare wait). */
  async function nothingElseReachedKable(): Promise<void> {
    const sentinel = track({ messageId: `sentinel-${randomUUID()}` });
    const res = await post('/v1/track', Buffer.from(JSON.stringify(sentinel)), {});
    expect(res.status).toBe(200);
    await h.kable.waitForEvents(1);
    await waitForDrained(h);
    expect(h.kable.events.map((e) => e.transactionId)).toEqual([sentinel.messageId]);
  }

  const endpoints = [
    { path: '/v1/batch', wrap: (messages: unknown[]) => ({ batch: messages, sentAt: new Date().toISOString() }) },
    { path: '/v1/webhook', wrap: (messages: unknown[]) => messages },
  ];

  describe.each(endpoints)('$path', ({ path, wrap }) => {
    it.each([
      ['gzip', (b: Buffer) => gzipSync(b)],
      ['deflate', (b: Buffer) => deflateSync(b)],
    ])('a %s body is inflated and accepted', async (encoding, compress) => {
      const messages = [track(), track({ userId: 'customer_2', properties: { units: 7 } })];
      const res = await post(path, compress(Buffer.from(JSON.stringify(wrap(messages)))), { 'content-encoding': encoding });
      expect({ status: res.status, body: res.text }).toMatchObject({ status: 200 });
      expect(res.json).toMatchObject({ success: true, accepted: 2 });
      await h.kable.waitForEvents(2);
      expect(h.kable.events.map((e) => e.transactionId).sort()).toEqual(messages.map((m) => m.messageId as string).sort());
    });

    it('a gzip bomb (10 MB of zeros in ~10 KB) is refused 413 on its inflated size, the service stays healthy, nothing reaches Kable', async () => {
      expect(BOMB.length).toBeLessThan(20 * 1024);
      const res = await post(path, BOMB, { 'content-encoding': 'gzip' });
      expect({ status: res.status, body: res.text }).toMatchObject({ status: 413 });
      expect(res.json.message).toMatch(/inflates to over 512000 bytes \(Content-Encoding: gzip\), the limit for \/v1\/(batch|webhook)/);

      const live = await request(`${h.url}/health/live`);
      await live.body.dump();
      expect(live.statusCode).toBe(200);
      await nothingElseReachedKable();
    });

    it('a corrupt gzip stream is refused 400 with a clear message', async () => {
      const good = gzipSync(Buffer.from(JSON.stringify(wrap([track()]))));
      const corrupt = Buffer.concat([good.subarray(0, 10), Buffer.from('this is not a deflate stream at all'), good.subarray(-8)]);
      const res = await post(path, corrupt, { 'content-encoding': 'gzip' });
      expect({ status: res.status, body: res.text }).toMatchObject({ status: 400 });
      expect(res.json.message).toMatch(/not a valid gzip stream/);
      await nothingElseReachedKable();
    });

    it('a truncated gzip stream is refused 400', async () => {
      const good = gzipSync(Buffer.from(JSON.stringify(wrap([track(), track()]))));
      const res = await post(path, good.subarray(0, good.length - 12), { 'content-encoding': 'gzip' });
      expect({ status: res.status, body: res.text }).toMatchObject({ status: 400 });
      await nothingElseReachedKable();
    });

    it.each(['br', 'compress'])('an unknown Content-Encoding: %s is refused 415', async (encoding) => {
      const res = await post(path, Buffer.from(JSON.stringify(wrap([track()]))), { 'content-encoding': encoding });
      expect({ status: res.status, body: res.text }).toMatchObject({ status: 415 });
      expect(res.json.message).toContain(`Content-Encoding "${encoding}" is not supported`);
      expect(res.json.message).toMatch(/gzip or deflate/); // says what is
      await nothingElseReachedKable();
    });
  });

  it('/v1/track: a small gzip body inflating to more than 32 KB is refused 413', async () => {
    const big = track({ properties: { padding: 'x'.repeat(40 * 1024) } });
    const body = gzipSync(Buffer.from(JSON.stringify(big)));
    expect(body.length).toBeLessThan(2 * 1024);
    const res = await post('/v1/track', body, { 'content-encoding': 'gzip' });
    expect({ status: res.status, body: res.text }).toMatchObject({ status: 413 });
    expect(res.json.message).toMatch(/inflates to over 32768 bytes .*\/v1\/track/);
    await nothingElseReachedKable();
  });

  it('/v1/track: a gzip body within 32 KB is accepted', async () => {
    const message = track({ properties: { padding: 'x'.repeat(20 * 1024) } });
    const res = await post('/v1/track', gzipSync(Buffer.from(JSON.stringify(message))), { 'content-encoding': 'gzip' });
    expect({ status: res.status, body: res.text }).toMatchObject({ status: 200 });
    await waitFor(
      () => h.kable.events.map((e) => e.transactionId),
      (ids) => ids.includes(message.messageId as string),
    );
  });
});
