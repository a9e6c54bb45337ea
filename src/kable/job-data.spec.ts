import { decodeJobEvents, DEFLATE_FROM_CHARS, encodeJobData, readableJobData } from './job-data.js';
import type { KableEvent } from './kable-event.js';

function events(n: number): KableEvent[] {
  return Array.from({ length: n }, (_, i) => ({
    clientId: `customer_${i % 7}`,
    timestamp: `2026-01-09T09:32:${String(i % 60).padStart(2, '0')}.123Z`,
    transactionId: `3f1c2a9e-5b7d-4c21-9e0f-${String(i).padStart(12, '0')}`,
    data: { endpoint: '/v1/things', method: 'POST', objectCount: i % 5, nested: { ok: true, list: [1, 'two', null] }, text: 'é ✓ 💸' },
  }));
}

describe('delivery job data', () => {
  it('keeps a small job as plain JSON events', async () => {
    const one = events(1);
    expect(JSON.stringify(one).length).toBeLessThan(DEFLATE_FROM_CHARS);
    const data = encodeJobData(one, 'ingest');
    expect(data).toEqual({ events: one, source: 'ingest' });
    expect(await decodeJobEvents(data)).toEqual(one);
  });

  it('deflates a large job and gives back exactly the same events, in order', async () => {
    const many = events(100);
    const data = encodeJobData(many, 'replay');
    expect(data.events).toBeUndefined();
    expect(data).toMatchObject({ source: 'replay', count: 100 });
    // What BullMQ stores is the JSON of the job data: a fraction of the events' JSON.
    expect(JSON.stringify(data).length).toBeLessThan(JSON.stringify(many).length / 3);
    expect(await decodeJobEvents(JSON.parse(JSON.stringify(data)))).toEqual(many);
  });

  it('reads jobs queued before compression (plain events), and an empty job', async () => {
    const many = events(30);
    expect(await decodeJobEvents({ events: many, source: 'ingest' })).toEqual(many);
    expect(await decodeJobEvents({ source: 'ingest' })).toEqual([]);
  });

  it('refuses corrupt deflated data instead of delivering something else', async () => {
    await expect(
      decodeJobEvents({ source: 'ingest', count: 1, deflated: Buffer.from('not deflate').toString('base64') }),
    ).rejects.toThrow();
  });

  it('shows a deflated job decoded for people, and anything else as it is', () => {
    const many = events(40);
    expect(readableJobData(encodeJobData(many, 'engage'))).toEqual({ source: 'engage', count: 40, events: many });
    const plain = encodeJobData(events(1), 'ingest');
    expect(readableJobData(plain)).toBe(plain);
    const corrupt = { source: 'ingest' as const, count: 1, deflated: 'AAAA' };
    expect(readableJobData(corrupt)).toBe(corrupt);
  });
});
