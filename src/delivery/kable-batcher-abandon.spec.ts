import { KableBatcher } from './kable-batcher.js';
import type { KableEvent } from '../segment/kable-event.js';
import type { SendResult } from './kable/kable.errors.js';

// KableBatcher.abandon (used when the worker stops); the batcher's other behaviour is in kable-batcher.spec.ts.
const event = (id: string): KableEvent => ({ clientId: 'c', timestamp: '2024-01-01T00:00:00Z', transactionId: id, data: {} });

describe('KableBatcher.abandon', () => {
  it('answers every unsent event as retryable and leaves the requests in flight alone', async () => {
    const sent: string[][] = [];
    let answer!: (result: SendResult) => void;
    const batcher = new KableBatcher(
      (batch) => {
        sent.push(batch.map((e) => e.transactionId));
        return new Promise<SendResult>((resolve) => (answer = resolve));
      },
      { batchSize: 2, flushIntervalMs: 60_000, maxInFlight: 1 },
    );
    const inFlight = batcher.submit([event('a'), event('b')]); // a full batch: sent at once
    const unsent = batcher.submit([event('c'), event('d'), event('e')]); // waits: one request at a time
    expect(sent).toEqual([['a', 'b']]);

    batcher.abandon('not sent before the worker stopped');
    expect(await unsent).toEqual(Array(3).fill({ kind: 'retryable', reason: 'not sent before the worker stopped' }));
    expect(batcher.pending).toBe(0);

    answer({ kind: 'ok', status: 200, requestId: 'r1', durationMs: 1 });
    expect(await inFlight).toEqual(Array(2).fill({ kind: 'ok', status: 200, requestId: 'r1' }));
    expect(sent).toEqual([['a', 'b']]); // nothing more was sent
  });
});
