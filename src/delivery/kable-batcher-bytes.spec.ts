import { KableBatcher, oversizeReason } from './kable-batcher.js';
import type { SendResult } from './kable/kable.errors.js';

// KableBatcher's cap in bytes (KABLE_MAX_REQUEST_BYTES); its other behaviour is in kable-batcher.spec.ts.
// Events are JSON strings, as the worker submits them, with their lengths as sizes (ASCII).

const ok: SendResult = { kind: 'ok', status: 200, requestId: 'r1', durationMs: 1 };

/** A JSON string event of exactly `bytes` bytes, told apart by `id`. */
const event = (id: number, bytes: number) => JSON.stringify(`${id}:`.padEnd(bytes - 2, 'x'));

function recordingBatcher(options: { batchSize?: number; maxRequestBytes: number; flushIntervalMs?: number }) {
  const bodies: string[] = [];
  const sent: string[] = [];
  const batcher = new KableBatcher<string>(
    (batch) => {
      sent.push(...batch);
      bodies.push(`[${batch.join(',')}]`);
      return Promise.resolve(ok);
    },
    { batchSize: options.batchSize ?? 500, flushIntervalMs: options.flushIntervalMs ?? 1, maxInFlight: 2, ...options },
  );
  const submit = (events: string[]) =>
    batcher.submit(
      events,
      events.map((e) => Buffer.byteLength(e)),
    );
  return { batcher, bodies, sent, submit };
}

describe('KableBatcher with a cap in bytes', () => {
  it('splits a batch over the cap into requests within it, at once and in order, each event answered once', async () => {
    // 10 events of 30 bytes: three make a 94-byte body ([a,b,c]), a fourth would make 125.
    const { batcher, bodies, sent, submit } = recordingBatcher({ maxRequestBytes: 100, flushIntervalMs: 60_000 });
    const events = Array.from({ length: 10 }, (_, i) => event(i, 30));
    const outcomes = submit(events);
    await new Promise((resolve) => setImmediate(resolve));
    // Requests full by bytes go out without waiting for the flush interval; the last one waits.
    expect(bodies.map((b) => b.length)).toEqual([94, 94, 94]);
    batcher.flush();
    expect(await outcomes).toEqual(Array(10).fill({ kind: 'ok', status: 200, requestId: 'r1' }));
    expect(bodies.map((b) => Buffer.byteLength(b))).toEqual([94, 94, 94, 32]);
    expect(sent).toEqual(events);
    expect(bodies.map((b) => JSON.parse(b) as string[]).flat()).toEqual(events.map((e) => JSON.parse(e) as string));
  });

  it('fills a request up to exactly the cap, across submissions, and still caps it at batchSize events', async () => {
    // Three 32-byte events make exactly 100 bytes: 2 brackets + 96 + 2 commas.
    const exact = recordingBatcher({ maxRequestBytes: 100 });
    await Promise.all([exact.submit([event(0, 32), event(1, 32)]), exact.submit([event(2, 32), event(3, 32)])]);
    expect(exact.bodies.map((b) => b.length)).toEqual([100, 34]);

    const counted = recordingBatcher({ maxRequestBytes: 65_536, batchSize: 4 });
    await counted.submit(Array.from({ length: 9 }, (_, i) => event(i, 10)));
    expect(counted.bodies.map((b) => (JSON.parse(b) as string[]).length)).toEqual([4, 4, 1]);
  });

  it('answers an event too large for any request as final with the reason, never sends it, and delivers the others', async () => {
    const { bodies, sent, submit } = recordingBatcher({ maxRequestBytes: 100 });
    // 98 bytes fit alone ([e] = 100 bytes); 99 do not.
    const events = [event(0, 30), event(1, 99), event(2, 98), event(3, 30), event(4, 5000)];
    const outcomes = await submit(events);
    expect(outcomes).toEqual([
      { kind: 'ok', status: 200, requestId: 'r1' },
      { kind: 'final', reason: oversizeReason(99, 100) },
      { kind: 'ok', status: 200, requestId: 'r1' },
      { kind: 'ok', status: 200, requestId: 'r1' },
      {
        kind: 'final',
        reason:
          "event is 5,000 bytes of JSON (5,002 as a request), over KABLE_MAX_REQUEST_BYTES (100): not sent to Kable; raise the setting or shrink the event's properties",
      },
    ]);
    expect(sent).toEqual([events[0], events[2], events[3]]);
    expect(bodies.map((b) => b.length)).toEqual([32, 100, 32]);
  });

  it('answers a submission of oversize events alone without a request', async () => {
    const { bodies, submit } = recordingBatcher({ maxRequestBytes: 100 });
    const outcomes = await submit([event(0, 200), event(1, 300)]);
    expect(outcomes.map((o) => o.kind)).toEqual(['final', 'final']);
    expect(bodies).toEqual([]);
  });
});
