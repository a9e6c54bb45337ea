import { createHmac, randomUUID } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { request } from 'undici';
import { type Harness, startHarness, track, waitForDrained } from './support/harness.js';

const SECRET = 'whsec_test_shared_secret_0123456789';

/**
 * What segmentio/action-destinations signs (packages/destination-actions/src/destinations/webhook/index.ts,
 * extendRequest): hex HMAC-SHA1 keyed by the shared secret over JSON.stringify of
 * - with "Use X-Segment-Signature Header": the whole body as sent, `payload.map(p => p.data)` for a
 *   batch (send/index.ts performBatch posts exactly that array as `json`), in `X-Segment-Signature`;
 * - legacy: only `payload[0].data`, the first item, in `X-Signature`.
 */
const hmacSha1Hex = (data: string | Buffer) => createHmac('sha1', SECRET).update(data).digest('hex');

/** An Actions-webhook batch item: a Segment track message, as its `data` mapping ('$.') sends it. */
const item = (overrides: Record<string, unknown> = {}) =>
  track({ messageId: `wh-${randomUUID()}`, properties: { units: 1, endpoint: '/v1/things' }, ...overrides });

async function post(h: Harness, body: Buffer | string, headers: Record<string, string>) {
  const res = await request(`${h.url}/v1/webhook`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'user-agent': 'Segment.io/1.0', ...headers },
    body,
  });
  const text = await res.body.text();
  let json: { message?: string } & Record<string, unknown> = {};
  try {
    json = JSON.parse(text) as typeof json;
  } catch {
    // asserted through `text`
  }
  return { status: res.statusCode, text, json };
}

/** Nothing but a correctly signed sentinel sent afterwards reaches Kable. */
async function nothingElseReachedKable(h: Harness): Promise<void> {
  const sentinel = item();
  const body = JSON.stringify(sentinel);
  const res = await post(h, body, { 'x-signature': hmacSha1Hex(body) });
  expect(res.status).toBe(200);
  await h.kable.waitForEvents(1);
  await waitForDrained(h);
  expect(h.kable.events.map((e) => e.transactionId)).toEqual([sentinel.messageId]);
}

async function expectEachOnce(h: Harness, items: Array<Record<string, unknown>>): Promise<void> {
  await h.kable.waitForEvents(items.length);
  await waitForDrained(h);
  expect(h.kable.events.map((e) => e.transactionId).sort()).toEqual(items.map((i) => i.messageId as string).sort());
  for (const i of items) expect(h.kable.arrivals.get(i.messageId as string)).toBe(1);
  for (const i of items) {
    expect(h.kable.events.find((e) => e.transactionId === i.messageId)).toMatchObject({ clientId: i.userId, data: i.properties });
  }
}

describe('webhook signatures (SEGMENT_SHARED_SECRET)', () => {
  describe('default: SEGMENT_WEBHOOK_FIRST_ITEM_SIGNATURE=reject', () => {
    let h: Harness;

    beforeAll(async () => {
      h = await startHarness({ SEGMENT_SHARED_SECRET: SECRET });
    });
    afterAll(async () => {
      await h.close();
    });
    beforeEach(() => h.kable.reset());

    it('an Actions-webhook array signed with X-Segment-Signature (HMAC-SHA1 hex of the whole body) arrives whole', async () => {
      const items = [item(), item({ userId: 'customer_2' }), item({ userId: 'customer_3', properties: { units: 5 } })];
      const body = JSON.stringify(items);
      const res = await post(h, body, { 'x-segment-signature': hmacSha1Hex(body) });
      expect({ status: res.status, body: res.text }).toMatchObject({ status: 200 });
      expect(res.json).toMatchObject({ success: true, accepted: 3 });
      await expectEachOnce(h, items);
    });

    it('a wrong X-Segment-Signature is refused 401 and nothing reaches Kable', async () => {
      const items = [item(), item()];
      const body = JSON.stringify(items);
      const res = await post(h, body, { 'x-segment-signature': hmacSha1Hex(`${body} `) });
      expect({ status: res.status, body: res.text }).toMatchObject({ status: 401 });
      expect(res.json.message).toMatch(/invalid signature/);
      await nothingElseReachedKable(h);
    });

    it('a legacy X-Signature over only the first item, with a forged second item, is refused 401 and nothing reaches Kable', async () => {
      const first = item();
      const forged = item({ userId: 'victim_customer', properties: { units: 999999 } });
      const body = JSON.stringify([first, forged]);
      const res = await post(h, body, { 'x-signature': hmacSha1Hex(JSON.stringify(first)) });
      expect({ status: res.status, body: res.text }).toMatchObject({ status: 401 });
      expect(res.json.message).toContain('Use X-Segment-Signature Header');
      await nothingElseReachedKable(h);
    });

    it('a one-item Actions batch with the legacy X-Signature (its only item is what it signs) is accepted', async () => {
      const only = item();
      const res = await post(h, JSON.stringify([only]), { 'x-signature': hmacSha1Hex(JSON.stringify(only)) });
      expect({ status: res.status, body: res.text }).toMatchObject({ status: 200 });
      await expectEachOnce(h, [only]);
    });

    it('a classic single-message webhook with X-Signature over its body is accepted', async () => {
      const message = item();
      const body = JSON.stringify(message);
      const res = await post(h, body, { 'x-signature': hmacSha1Hex(body) });
      expect({ status: res.status, body: res.text }).toMatchObject({ status: 200 });
      await expectEachOnce(h, [message]);
    });

    it('a whole-body X-Signature on a gzip body verifies against the bytes as sent (compressed)', async () => {
      const items = [item(), item({ userId: 'customer_9' })];
      const gz = gzipSync(Buffer.from(JSON.stringify(items)));
      const res = await post(h, gz, { 'content-encoding': 'gzip', 'x-signature': hmacSha1Hex(gz) });
      expect({ status: res.status, body: res.text }).toMatchObject({ status: 200 });
      await expectEachOnce(h, items);
    });

    it('an X-Signature over the inflated JSON of a gzip body does not verify', async () => {
      const items = [item()];
      const json = JSON.stringify(items);
      const res = await post(h, gzipSync(Buffer.from(json)), { 'content-encoding': 'gzip', 'x-signature': hmacSha1Hex(json) });
      expect({ status: res.status, body: res.text }).toMatchObject({ status: 401 });
      await nothingElseReachedKable(h);
    });
  });

  describe('SEGMENT_WEBHOOK_FIRST_ITEM_SIGNATURE=accept', () => {
    let h: Harness;

    beforeAll(async () => {
      h = await startHarness({ SEGMENT_SHARED_SECRET: SECRET, SEGMENT_WEBHOOK_FIRST_ITEM_SIGNATURE: 'accept' });
    });
    afterAll(async () => {
      await h.close();
    });
    beforeEach(() => h.kable.reset());

    it('a legacy X-Signature over only the first item is accepted, every item delivered', async () => {
      const items = [item(), item({ userId: 'customer_2', properties: { units: 3 } })];
      const res = await post(h, JSON.stringify(items), { 'x-signature': hmacSha1Hex(JSON.stringify(items[0])) });
      expect({ status: res.status, body: res.text }).toMatchObject({ status: 200 });
      await expectEachOnce(h, items);
    });

    it('X-Segment-Signature still works', async () => {
      const items = [item(), item()];
      const body = JSON.stringify(items);
      const res = await post(h, body, { 'x-segment-signature': hmacSha1Hex(body) });
      expect({ status: res.status, body: res.text }).toMatchObject({ status: 200 });
      await expectEachOnce(h, items);
    });
  });
});
