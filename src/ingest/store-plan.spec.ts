import type { KableEvent } from '../segment/kable-event.js';
import { planStore } from './store-plan.js';

const event = (id: string): KableEvent => ({ clientId: 'c1', timestamp: '2026-01-01T00:00:00Z', transactionId: id, data: {} });
const at = (ms: number) => new Date(ms);

describe('planStore', () => {
  it('queues every unseen event in request order, one run per request starting where its events start in the job', () => {
    const plan = planStore(
      [
        { events: [event('a'), event('b')], receivedAt: at(1) },
        { events: [event('c')], receivedAt: at(2) },
      ],
      [false, false, false],
    );
    expect(plan.events.map((e) => e.transactionId)).toEqual(['a', 'b', 'c']);
    expect(plan.runs).toEqual([
      { messageIds: ['a', 'b'], receivedAt: at(1), start: 0 },
      { messageIds: ['c'], receivedAt: at(2), start: 2 },
    ]);
    expect(plan.queued).toEqual([2, 1]);
  });

  it('leaves out what the window has seen', () => {
    const plan = planStore([{ events: [event('a'), event('b'), event('c')], receivedAt: at(1) }], [true, false, true]);
    expect(plan.events.map((e) => e.transactionId)).toEqual(['b']);
    expect(plan.runs).toEqual([{ messageIds: ['b'], receivedAt: at(1), start: 0 }]);
    expect(plan.queued).toEqual([1]);
  });

  it('queues a messageId two requests of the group carry once, for the first of them', () => {
    const plan = planStore(
      [
        { events: [event('x'), event('a')], receivedAt: at(1) },
        { events: [event('b'), event('a')], receivedAt: at(2) },
        { events: [event('a')], receivedAt: at(3) },
      ],
      [false, false, false, false, false],
    );
    expect(plan.events.map((e) => e.transactionId)).toEqual(['x', 'a', 'b']);
    expect(plan.runs.map((r) => [r.messageIds, r.start])).toEqual([
      [['x', 'a'], 0],
      [['b'], 2],
      [[], 3],
    ]);
    expect(plan.queued).toEqual([2, 1, 0]);
  });

  it('stores nothing for a group whose events were all seen', () => {
    const plan = planStore([{ events: [event('a')], receivedAt: at(1) }], [true]);
    expect(plan).toEqual({ events: [], runs: [{ messageIds: [], receivedAt: at(1), start: 0 }], queued: [0] });
  });
});
