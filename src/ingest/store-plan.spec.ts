import type { KableEvent } from '../segment/kable-event.js';
import { planStore } from './store-plan.js';

const event = (id: string): KableEvent => ({ clientId: 'c1', timestamp: '2026-01-01T00:00:00Z', transactionId: id, data: {} });

describe('planStore', () => {
  it('queues every unseen event in request order, one run per request starting where its events start in the job', () => {
    const plan = planStore([{ events: [event('a'), event('b')] }, { events: [event('c')] }], [false, false, false]);
    expect(plan.events.map((e) => e.transactionId)).toEqual(['a', 'b', 'c']);
    expect(plan.runs).toEqual([
      { messageIds: ['a', 'b'], start: 0 },
      { messageIds: ['c'], start: 2 },
    ]);
    expect(plan.queued).toEqual([2, 1]);
  });

  it('leaves out what the window has seen', () => {
    const plan = planStore([{ events: [event('a'), event('b'), event('c')] }], [true, false, true]);
    expect(plan.events.map((e) => e.transactionId)).toEqual(['b']);
    expect(plan.runs).toEqual([{ messageIds: ['b'], start: 0 }]);
    expect(plan.queued).toEqual([1]);
  });

  it('queues a messageId two requests of the group carry once, for the first of them', () => {
    const plan = planStore(
      [{ events: [event('x'), event('a')] }, { events: [event('b'), event('a')] }, { events: [event('a')] }],
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
    const plan = planStore([{ events: [event('a')] }], [true]);
    expect(plan).toEqual({ events: [], runs: [{ messageIds: [], start: 0 }], queued: [0] });
  });
});
