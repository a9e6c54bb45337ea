import request from 'supertest';
import { DeliveryQueues, formatJobRef } from '../src/delivery/delivery-queues.js';
import { DeliveryProducer } from '../src/delivery/delivery.producer.js';
import type { DeadLetter } from '../src/delivery/dead-letter.store.js';
import type { KableEvent } from '../src/segment/kable-event.js';
import { basicAuth, type Harness, startHarness, track } from './support/harness.js';
import { waitFor } from './support/wait.js';

const ADMIN_TOKEN = 'admin-token-0123456789abcdef';
const CAP = 65_536;

/** The size of each Kable request body as it arrived (undici sends Content-Length for a text body). */
const bodySizes = (h: Harness) => h.kable.requests.map((r) => Number(r.headers['content-length']));

describe('Kable requests capped in bytes (KABLE_MAX_REQUEST_BYTES)', () => {
  let h: Harness;
  beforeEach(async () => {
    h = await startHarness({ KABLE_MAX_REQUEST_BYTES: String(CAP), ADMIN_TOKEN });
  });
  afterEach(async () => {
    await h.close();
  });

  it('splits large events into requests of at most the cap, each event delivered once', async () => {
    // About 18 KB of UTF-8 per event (15,000 of its characters are 1 byte, 1,000 are 3 bytes): three
    // fit a 64 KB request, four do not. Counted in characters, four would seem to fit (about 64,800).
    const blob = 'x'.repeat(15_000) + '€'.repeat(1_000);
    const messages = Array.from({ length: 24 }, (_, i) => track({ messageId: `big-${i}`, properties: { blob, i } }));
    const body = JSON.stringify({ batch: messages });
    expect(Buffer.byteLength(body)).toBeLessThan(500 * 1024);
    const res = await request(h.url).post('/v1/batch').set('authorization', basicAuth()).set('content-type', 'application/json').send(body);
    expect(res.status).toBe(200);
    expect(res.body.queued).toBe(24);

    await h.kable.waitForEvents(24);
    expect(h.kable.requests.map((r) => r.status)).toEqual(Array(8).fill(200));
    expect(h.kable.requests.map((r) => r.events.length)).toEqual(Array(8).fill(3));
    for (const [i, size] of bodySizes(h).entries()) {
      expect(size).toBe(Buffer.byteLength(JSON.stringify(h.kable.requests.at(i)!.events)));
      expect(size).toBeLessThanOrEqual(CAP);
      expect(size).toBeGreaterThan(CAP * 0.75);
    }
    // Requests run concurrently and may arrive in any order; each holds three consecutive events.
    const ids = messages.map((m) => m.messageId as string);
    const requested = h.kable.requests.map((r) => r.events.map((e) => e.transactionId));
    requested.sort((a, b) => ids.indexOf(a.at(0)!) - ids.indexOf(b.at(0)!));
    expect(requested).toEqual(Array.from({ length: 8 }, (_, i) => ids.slice(3 * i, 3 * i + 3)));
    expect([...h.kable.arrivals.values()]).toEqual(Array(24).fill(1));
    const data = new Map(h.kable.events.map((e) => [e.transactionId, e.data]));
    expect(ids.map((id) => data.get(id))).toEqual(messages.map((m) => m.properties));
  });

  it('keeps an event too large for any request as a dead letter with the reason, never sent, and delivers the rest of its job', async () => {
    const event = (id: string, data: Record<string, unknown>): KableEvent => ({
      clientId: 'customer_1',
      timestamp: '2022-01-09T09:32:01Z',
      transactionId: id,
      data,
    });
    const big = event('too-big', { blob: 'y'.repeat(70_000) });
    const bigBytes = JSON.stringify(big).length;
    const events = [event('small-1', { n: 1 }), big, event('small-2', { n: 2 })];
    const ref = await h.app.get(DeliveryProducer).enqueue(events, 'replay');

    const queue = h.app.get(DeliveryQueues).at(ref!.shard);
    const job = await waitFor(
      () => queue.getJob(ref!.id),
      (j) => j?.returnvalue !== undefined && j.returnvalue !== null,
    );
    expect(job!.returnvalue).toEqual({ delivered: 2, failed: 1 });
    expect(h.kable.requests.flatMap((r) => r.events.map((e) => e.transactionId))).toEqual(['small-1', 'small-2']);
    expect([...h.kable.arrivals.values()]).toEqual([1, 1]);
    expect(bodySizes(h).every((size) => size <= CAP)).toBe(true);

    const letters = await request(h.url).get('/v1/dead-letters').set('authorization', `Bearer ${ADMIN_TOKEN}`);
    expect(letters.status).toBe(200);
    expect(letters.body.total).toBe(1);
    const letter = letters.body.deadLetters[0] as DeadLetter;
    expect(letter).toMatchObject({
      event: big,
      reason: `event is ${bigBytes.toLocaleString('en-US')} bytes of JSON (${(bigBytes + 2).toLocaleString('en-US')} as a request), over KABLE_MAX_REQUEST_BYTES (65536): not sent to Kable; raise the setting or shrink the event's properties`,
      attempts: 1,
      jobId: formatJobRef(ref!),
    });
    expect(letter.status).toBeUndefined();
    expect(letter.requestId).toBeUndefined();
    // Answered for (delivered or kept as a dead letter), all three left the backlog.
    expect(await h.backlogEvents()).toBe(0);
  });
});
