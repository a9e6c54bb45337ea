import type { Decision } from '../segment/decision.js';
import type { KableEvent } from '../segment/kable-event.js';
import { gather } from './gather.js';

const event = (id: string): Decision => ({
  kind: 'event',
  event: { clientId: 'c1', timestamp: '2026-01-01T00:00:00Z', transactionId: id, data: {} } satisfies KableEvent,
});
const receivedAt = new Date(1_000);

describe('gather', () => {
  it('sorts events, memberships, skips and rejections, in order, each event messageId once', () => {
    const membership = { audience: 'vip', type: 'identify', clientId: 'c1', member: true, at: 5 } as const;
    const decisions: Decision[] = [
      event('a'),
      { kind: 'skipped', messageId: 's1', type: 'page', reason: 'not_forwarded' },
      event('a'),
      { kind: 'rejected', code: 'missing_event', error: 'event is required' },
      { kind: 'membership', messageId: 'm1', membership },
      event('b'),
    ];
    const messages = decisions.map((_, i) => ({ messageId: `raw-${i}` }));
    const out = gather(messages, decisions, receivedAt, true);
    expect(out.events.map((e) => e.transactionId)).toEqual(['a', 'b']);
    expect(out.repeated).toBe(1);
    expect(out.memberships).toEqual([membership]);
    expect(out.skipped).toEqual([{ type: 'page', reason: 'not_forwarded' }]);
    expect(out.rejected).toEqual([{ index: 3, messageId: 'raw-3', code: 'missing_event', error: 'event is required' }]);
    expect(out.notes).toEqual([
      ['s1', { stage: 'skipped', at: 1_000, type: 'page', reason: 'not_forwarded' }],
      ['raw-3', { stage: 'rejected', at: 1_000, code: 'missing_event', error: 'event is required' }],
    ]);
  });

  it('writes no notes when traces are off', () => {
    const out = gather(
      [{}, null],
      [
        { kind: 'skipped', messageId: 's1', type: 'page', reason: 'not_forwarded' },
        { kind: 'rejected', code: 'not_an_object', error: 'not an object' },
      ],
      receivedAt,
      false,
    );
    expect(out.notes).toEqual([]);
    expect(out.skipped).toHaveLength(1);
    expect(out.rejected).toHaveLength(1);
  });

  it('answers a rejected messageId cut to 100 characters, and notes none for a message without a string id', () => {
    const long = 'x'.repeat(150);
    const rejected: Decision = { kind: 'rejected', code: 'invalid_message_id', error: 'too long' };
    const out = gather([{ messageId: long }, { messageId: 7 }, 'text'], [rejected, rejected, rejected], receivedAt, true);
    expect(out.rejected.map((r) => r.messageId)).toEqual(['x'.repeat(100), undefined, undefined]);
    expect(out.notes.map(([id]) => id)).toEqual([long]);
  });
});
