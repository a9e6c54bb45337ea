import {
  decodeEventJson,
  decodeJobEvents,
  decodeSizedEventJson,
  DEFLATE_FROM_CHARS,
  encodeEventJson,
  encodeJobData,
  jobEventCount,
  readableJobData,
} from './job-data.js';
import type { KableEvent } from '../segment/kable-event.js';
import type { DeliverJobData } from './queues.js';

function events(n: number): KableEvent[] {
  return Array.from({ length: n }, (_, i) => ({
    clientId: `customer_${i % 7}`,
    timestamp: `2026-01-09T09:32:${String(i % 60).padStart(2, '0')}.123Z`,
    transactionId: `3f1c2a9e-5b7d-4c21-9e0f-${String(i).padStart(12, '0')}`,
    // Line breaks inside values must not split an event.
    data: {
      endpoint: '/v1/things',
      method: 'POST',
      objectCount: i % 5,
      nested: { ok: true, list: [1, 'two', null] },
      text: 'é ✓ 💸\nline 2\r\n\u2028',
    },
  }));
}

/** A job large enough to be stored deflated. */
function deflatedJob(list: KableEvent[]): Extract<DeliverJobData, { deflated: string }> {
  const data = encodeJobData(list, 'ingest');
  if (data.deflated === undefined) throw new Error(`${list.length} events were not deflated`);
  return data;
}

describe('delivery job data', () => {
  it('keeps a small job as plain JSON events', () => {
    const one = events(1);
    expect(JSON.stringify(one).length).toBeLessThan(DEFLATE_FROM_CHARS);
    const data = encodeJobData(one, 'ingest');
    expect(data).toEqual({ events: one, source: 'ingest' });
    expect(decodeJobEvents(data)).toEqual(one);
    expect(decodeEventJson(data)).toEqual([JSON.stringify(one[0])]);
  });

  it('deflates a large job and gives back exactly the same events, in order', () => {
    const many = events(100);
    const data = encodeJobData(many, 'replay');
    expect(data.events).toBeUndefined();
    expect(data).toMatchObject({ source: 'replay', count: 100 });
    // What BullMQ stores is the JSON of the job data: a fraction of the events' JSON.
    expect(JSON.stringify(data).length).toBeLessThan(JSON.stringify(many).length / 3);
    const stored = JSON.parse(JSON.stringify(data)) as typeof data;
    expect(decodeJobEvents(stored)).toEqual(many);
    // The worker sends each event's JSON as it is: the same text JSON.stringify writes.
    expect(`[${decodeEventJson(stored).join(',')}]`).toBe(JSON.stringify(many));
  });

  it('encodes from the events JSON as from the events', () => {
    for (const n of [1, 100]) {
      const list = events(n);
      expect(
        encodeEventJson(
          list.map((e) => JSON.stringify(e)),
          'ingest',
        ),
      ).toEqual(encodeJobData(list, 'ingest'));
    }
  });

  it("gives each event's size in UTF-8 bytes beside its JSON, in every job form, ASCII or not", () => {
    const ascii = events(100).map((e) => ({ ...e, data: { endpoint: '/v1/things', objectCount: 3 } }));
    // é, ✓, 💸 and U+2028: 1, 1, 2 and 1 characters of JSON, 2, 3, 4 and 3 bytes of UTF-8.
    const accented = events(100);
    for (const data of [encodeJobData(ascii, 'ingest'), encodeJobData(accented, 'ingest'), encodeJobData(accented.slice(0, 1), 'ingest')]) {
      const { json, bytes } = decodeSizedEventJson(data);
      expect(json).toEqual(decodeEventJson(data));
      expect(bytes).toEqual(json.map((line) => Buffer.byteLength(line)));
    }
    expect(decodeSizedEventJson(encodeJobData(accented, 'ingest')).bytes[0]).toBe(JSON.stringify(accented[0]).length + 1 + 2 + 2 + 2);
  });

  it('tells how many events a job holds without decoding it', () => {
    expect(jobEventCount(deflatedJob(events(300)))).toBe(300);
    expect(jobEventCount(encodeJobData(events(2), 'ingest'))).toBe(2);
  });

  it('refuses corrupt deflated data instead of delivering something else', () => {
    expect(() => decodeJobEvents({ source: 'ingest', count: 1, deflated: Buffer.from('not deflate').toString('base64') })).toThrow();
    const wrongCount = { ...deflatedJob(events(100)), count: 99 };
    expect(() => decodeEventJson(wrongCount)).toThrow('job data holds 100 events, not the 99 it says');
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
