import { decodeSent, decodeState, diffMembership, encodeSent, encodeState, membershipTransactionId } from './audience-diff.js';

const at = Date.parse('2026-11-01T10:00:00Z');

describe('membership encoding', () => {
  it('round-trips states and sent records', () => {
    expect(decodeState(encodeState({ member: true, at }))).toEqual({ member: true, at });
    expect(encodeState({ member: false, at: 1 })).toBe('0|1');
    expect(decodeSent(encodeSent({ member: false, changes: 12 }))).toEqual({ member: false, changes: 12 });
    expect(decodeSent(null)).toBeUndefined();
  });
});

describe('membershipTransactionId', () => {
  it('is deterministic and differs per audience, user and change', () => {
    const id = membershipTransactionId('aud', 'u1', 1);
    expect(id).toMatch(/^engage-[0-9a-f]{40}$/);
    expect(membershipTransactionId('aud', 'u1', 1)).toBe(id);
    const others = [
      membershipTransactionId('aud', 'u1', 2),
      membershipTransactionId('aud', 'u2', 1),
      membershipTransactionId('aud2', 'u1', 1),
    ];
    expect(new Set([id, ...others]).size).toBe(4);
    // No ambiguity when parts contain the separator of a naive join.
    expect(membershipTransactionId('a:b', 'c', 1)).not.toBe(membershipTransactionId('a', 'b:c', 1));
  });
});

describe('diffMembership', () => {
  it('sends every member the first time and numbers the change 1', () => {
    const diff = diffMembership(
      'aud',
      ['u1', 'u2'],
      [
        { member: true, at },
        { member: true, at: at + 1000 },
      ],
      [undefined, undefined],
    );
    expect(diff.events).toEqual([
      { clientId: 'u1', timestamp: '2026-11-01T10:00:00Z', transactionId: membershipTransactionId('aud', 'u1', 1), data: { aud: true } },
      { clientId: 'u2', timestamp: '2026-11-01T10:00:01Z', transactionId: membershipTransactionId('aud', 'u2', 1), data: { aud: true } },
    ]);
    expect(diff.sent).toEqual([
      ['u1', '1|1'],
      ['u2', '1|1'],
    ]);
  });

  it('sends nothing when the state equals what Kable last received, or for an exit Kable never saw an entry for', () => {
    const diff = diffMembership(
      'aud',
      ['same_in', 'same_out', 'never_in'],
      [
        { member: true, at },
        { member: false, at },
        { member: false, at },
      ],
      [{ member: true, changes: 1 }, { member: false, changes: 2 }, undefined],
    );
    expect(diff).toEqual({ events: [], sent: [] });
  });

  it('sends exits and re-entries with the next change number', () => {
    const diff = diffMembership(
      'aud',
      ['leaving', 'back'],
      [
        { member: false, at },
        { member: true, at },
      ],
      [
        { member: true, changes: 1 },
        { member: false, changes: 2 },
      ],
    );
    expect(diff.events.map((e) => [e.clientId, e.data, e.transactionId])).toEqual([
      ['leaving', { aud: false }, membershipTransactionId('aud', 'leaving', 2)],
      ['back', { aud: true }, membershipTransactionId('aud', 'back', 3)],
    ]);
    expect(diff.sent).toEqual([
      ['leaving', '0|2'],
      ['back', '1|3'],
    ]);
  });
});
