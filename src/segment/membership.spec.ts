import type { SegmentMessage } from './segment-message.js';
import { classifyMembership, countInAudiences } from './membership.js';

const receivedAt = new Date('2026-11-29T12:00:00Z');
const personas = { computation_class: 'audience', computation_id: 'aud_1', computation_key: 'first_time_shopper', space_id: 'spa_1' };

function identify(overrides: Partial<SegmentMessage> = {}): SegmentMessage {
  return {
    type: 'identify',
    messageId: 'm1',
    userId: 'u123',
    timestamp: '2026-11-01T10:00:00Z',
    traits: { first_time_shopper: true },
    context: { personas },
    ...overrides,
  };
}

function audienceTrack(event: string, value: unknown, overrides: Partial<SegmentMessage> = {}): SegmentMessage {
  return {
    type: 'track',
    event,
    messageId: 'm2',
    userId: 'u123',
    timestamp: '2026-11-01T10:00:00.5Z',
    properties: { audience_key: 'first_time_shopper', first_time_shopper: value },
    context: { personas },
    ...overrides,
  };
}

describe('classifyMembership', () => {
  it("reads Segment's documented identify as membership", () => {
    expect(classifyMembership(identify(), 'userId', receivedAt)).toEqual({
      kind: 'membership',
      membership: {
        audience: 'first_time_shopper',
        type: 'identify',
        clientId: 'u123',
        member: true,
        at: Date.parse('2026-11-01T10:00:00Z'),
      },
    });
    expect(classifyMembership(identify({ traits: { first_time_shopper: false } }), 'userId', receivedAt)).toMatchObject({
      kind: 'membership',
      membership: { member: false },
    });
  });

  it('accepts journey steps and the Audience Entered / Exited track form', () => {
    const journey = identify({ context: { personas: { ...personas, computation_class: 'journey_step' } } });
    expect(classifyMembership(journey, 'userId', receivedAt).kind).toBe('membership');
    expect(classifyMembership(audienceTrack('Audience Entered', true), 'userId', receivedAt)).toEqual({
      kind: 'membership',
      membership: {
        audience: 'first_time_shopper',
        type: 'track',
        clientId: 'u123',
        member: true,
        at: Date.parse('2026-11-01T10:00:00.500Z'),
      },
    });
    expect(classifyMembership(audienceTrack('Audience Exited', false), 'userId', receivedAt)).toMatchObject({
      membership: { member: false },
    });
  });

  it('reads the client id at KABLE_CLIENT_ID_FIELD, like track events', () => {
    const message = identify({ context: { personas, groupId: 42 } });
    expect(classifyMembership(message, 'context.groupId', receivedAt)).toMatchObject({ membership: { clientId: '42' } });
    expect(classifyMembership(identify({ userId: undefined, anonymousId: 'a' }), 'userId', receivedAt)).toEqual({
      kind: 'skip',
      reason: 'engage_missing_client_id',
    });
    expect(classifyMembership(identify({ context: { personas, groupId: {} } }), 'context.groupId', receivedAt)).toEqual({
      kind: 'skip',
      reason: 'engage_invalid_client_id',
    });
  });

  it('uses the received time when the message has no timestamp', () => {
    expect(classifyMembership(identify({ timestamp: undefined }), 'userId', receivedAt)).toMatchObject({
      membership: { at: receivedAt.getTime() },
    });
  });

  it.each([
    [
      'a computed trait',
      identify({ traits: { ltv: 10 }, context: { personas: { ...personas, computation_class: 'trait', computation_key: 'ltv' } } }),
      'engage_computed_trait',
    ],
    ['no computation class', identify({ context: { personas: { computation_key: 'first_time_shopper' } } }), 'engage_computed_trait'],
    ['no computation key', identify({ context: { personas: { computation_class: 'audience' } } }), 'engage_missing_audience_key'],
    ['a string "true"', identify({ traits: { first_time_shopper: 'true' } }), 'engage_not_boolean'],
    ['a 1', identify({ traits: { first_time_shopper: 1 } }), 'engage_not_boolean'],
    ['no trait', identify({ traits: {} }), 'engage_not_boolean'],
    ['no traits', identify({ traits: undefined }), 'engage_not_boolean'],
    [
      'a track without audience_key',
      audienceTrack('Audience Entered', true, { properties: { first_time_shopper: true } }),
      'engage_missing_audience_key',
    ],
    ['a track with a non-boolean', audienceTrack('Audience Entered', null), 'engage_not_boolean'],
  ])('skips %s with its reason', (_name, message, reason) => {
    expect(classifyMembership(message, 'userId', receivedAt)).toEqual({ kind: 'skip', reason });
  });

  it('leaves messages that are not from Engage on the ordinary path', () => {
    expect(classifyMembership(identify({ context: {} }), 'userId', receivedAt)).toEqual({ kind: 'other' });
    expect(classifyMembership(identify({ context: { personas: 'x' } }), 'userId', receivedAt)).toEqual({ kind: 'other' });
    expect(classifyMembership(audienceTrack('API Call', true), 'userId', receivedAt)).toEqual({ kind: 'other' });
    expect(classifyMembership(audienceTrack('Audience Entered', true, { context: {} }), 'userId', receivedAt)).toEqual({ kind: 'other' });
    expect(classifyMembership({ ...identify(), type: 'group' }, 'userId', receivedAt)).toEqual({ kind: 'other' });
  });
});

describe('countInAudiences', () => {
  it('counts the memberships of the given audiences by message type', () => {
    const m = (audience: string, type: 'identify' | 'track') => ({ audience, type, clientId: 'u', member: true, at: 0 });
    const counts = countInAudiences([m('a', 'identify'), m('b', 'identify'), m('b', 'track'), m('b', 'identify')], ['b']);
    expect([...counts]).toEqual([
      ['identify', 2],
      ['track', 1],
    ]);
    expect(countInAudiences([m('a', 'identify')], []).size).toBe(0);
  });
});
