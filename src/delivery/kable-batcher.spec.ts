import { KableBatcher } from './kable-batcher.js';
import type { KableEvent } from '../segment/kable-event.js';
import type { SendResult } from './kable/kable.errors.js';

const event = (id: string): KableEvent => ({ clientId: 'c', timestamp: '2024-01-01T00:00:00Z', transactionId: id, data: {} });
const events = (n: number, from = 0) => Array.from({ length: n }, (_, i) => event(`e${from + i}`));
const ok: SendResult = { kind: 'ok', status: 200, requestId: 'r1', durationMs: 1 };

describe('KableBatcher', () => {
  it('combines events of several submissions into one request, sent after the flush interval', async () => {
    const sent: string[][] = [];
    const batcher = new KableBatcher(
      (batch) => {
        sent.push(batch.map((e) => e.transactionId));
        return Promise.resolve(ok);
      },
      { batchSize: 500, flushIntervalMs: 30, maxInFlight: 2 },
    );
    const results = await Promise.all([batcher.submit(events(1, 0)), batcher.submit(events(2, 1)), batcher.submit(events(1, 3))]);
    expect(sent).toEqual([['e0', 'e1', 'e2', 'e3']]);
    expect(results.flat()).toEqual(Array(4).fill({ kind: 'ok', status: 200, requestId: 'r1' }));
  });

  it('sends full batches at once, keeps the rest for the interval, and sends it at once on flush', async () => {
    const sizes: number[] = [];
    const batcher = new KableBatcher(
      (batch) => {
        sizes.push(batch.length);
        return Promise.resolve(ok);
      },
      { batchSize: 10, flushIntervalMs: 60_000, maxInFlight: 4 },
    );
    const pending = batcher.submit(events(25));
    expect(sizes).toEqual([10, 10]);
    await new Promise((resolve) => setImmediate(resolve));
    expect(sizes).toEqual([10, 10]);
    expect(batcher.pending).toBe(5);
    batcher.flush();
    expect(sizes).toEqual([10, 10, 5]);
    expect(await pending).toEqual(Array(25).fill({ kind: 'ok', status: 200, requestId: 'r1' }));
  });

  it('never runs more than maxInFlight requests at once', async () => {
    let running = 0;
    let peak = 0;
    const batcher = new KableBatcher(
      async () => {
        running += 1;
        peak = Math.max(peak, running);
        await new Promise((resolve) => setTimeout(resolve, 10));
        running -= 1;
        return ok;
      },
      { batchSize: 5, flushIntervalMs: 1, maxInFlight: 3 },
    );
    await batcher.submit(events(100));
    expect(peak).toBe(3);
  });

  it('sends every event once and in order while many thousands wait, submitted between sends and abandoned midway', async () => {
    // Crosses the point where the sent part of the buffer is dropped (COMPACT_FROM) several times.
    const sent: string[] = [];
    let release: () => void = () => undefined;
    const batcher = new KableBatcher(
      async (batch) => {
        sent.push(...batch.map((e) => e.transactionId));
        await new Promise<void>((resolve) => (release = resolve));
        return ok;
      },
      { batchSize: 500, flushIntervalMs: 60_000, maxInFlight: 1 },
    );
    const first = batcher.submit(events(10_000, 0));
    const second = batcher.submit(events(9_999, 10_000));
    while (batcher.pending > 6_000) {
      release();
      await new Promise((resolve) => setImmediate(resolve));
    }
    const third = batcher.submit(events(3, 19_999));
    while (batcher.pending > 1_001) {
      release();
      await new Promise((resolve) => setImmediate(resolve));
    }
    const left = batcher.pending;
    batcher.abandon('stopping');
    release();
    const outcomes = [...(await first), ...(await second), ...(await third)];
    expect(batcher.pending).toBe(0);
    expect(sent).toEqual(events(sent.length).map((e) => e.transactionId));
    expect(outcomes.slice(0, sent.length).every((o) => o.kind === 'ok')).toBe(true);
    expect(outcomes.slice(sent.length).every((o) => o.kind === 'retryable' && o.reason === 'stopping')).toBe(true);
    expect(outcomes).toHaveLength(20_002);
    expect(left).toBe(502);
    expect(sent).toHaveLength(20_002 - left);
  });

  it('splits a batch Kable refuses with 400 until the bad event is alone, and delivers the rest', async () => {
    let requests = 0;
    const batcher = new KableBatcher(
      (batch) => {
        requests += 1;
        if (batch.some((e) => e.transactionId === 'e5')) {
          return Promise.resolve<SendResult>({
            kind: 'final',
            status: 400,
            reason: 'HTTP 400',
            body: '{"message":"bad"}',
            requestId: 'rq',
            durationMs: 1,
          });
        }
        return Promise.resolve(ok);
      },
      { batchSize: 16, flushIntervalMs: 1, maxInFlight: 1 },
    );
    const outcomes = await batcher.submit(events(16));
    expect(outcomes.filter((o) => o.kind === 'ok')).toHaveLength(15);
    expect(outcomes[5]).toEqual({
      kind: 'final',
      status: 400,
      reason: 'HTTP 400',
      body: '{"message":"bad"}',
      requestId: 'rq',
      retryAfterMs: undefined,
    });
    expect(requests).toBe(9); // 1 + 2 per level of the binary search (log2 16 = 4)
  });

  it('gives every event of a batch the same retryable outcome, and turns a thrown sender into one', async () => {
    const batcher = new KableBatcher(() => Promise.reject(new Error('boom')), { batchSize: 10, flushIntervalMs: 1, maxInFlight: 1 });
    const outcomes = await batcher.submit(events(3));
    expect(outcomes).toEqual(Array(3).fill({ kind: 'retryable', reason: 'unexpected error: boom' }));
  });
});
