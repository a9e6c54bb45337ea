import { parsePropertyMappings } from './property-mappings.js';
import { decideMessage, type DecisionContext, decisionSettings } from './decision.js';

const receivedAt = new Date('2026-01-02T03:04:05Z');
const ctx: DecisionContext = { receivedAt, fromBrowser: false };
const seedSettings = decisionSettings({ clientIdField: 'userId', propertyMappings: parsePropertyMappings('segmentX : kableX') });
const personas = { computation_class: 'audience', computation_key: 'order_completed_last_30days' };

function track(fields: Record<string, unknown> = {}): Record<string, unknown> {
  return { type: 'track', event: 'API Call', userId: 'c1', messageId: 'm1', timestamp: '2022-01-09T09:32:01Z', ...fields };
}

describe('decideMessage', () => {
  it("makes the seed's example into the seed's Kable body exactly when no event setting is set", () => {
    const message = track({
      event: 'your_event_type',
      userId: 'yourcompanyuser_1234567890',
      messageId: '022bb90c-bbac-11e4-8dfc-aa07a5b093db',
      properties: { segmentX: 'important data point', messageId: 'msg_ABC123XYZ456', objectCount: 12, bankAccountBalance: 399.99 },
    });
    const decision = decideMessage(message, seedSettings, ctx);
    expect(decision).toEqual({
      kind: 'event',
      event: {
        clientId: 'yourcompanyuser_1234567890',
        timestamp: '2022-01-09T09:32:01Z',
        transactionId: '022bb90c-bbac-11e4-8dfc-aa07a5b093db',
        data: { kableX: 'important data point', messageId: 'msg_ABC123XYZ456', objectCount: 12, bankAccountBalance: 399.99 },
      },
    });
    expect(JSON.stringify(decision.kind === 'event' && decision.event.data)).toBe(
      '{"kableX":"important data point","messageId":"msg_ABC123XYZ456","objectCount":12,"bankAccountBalance":399.99}',
    );
  });

  it('rejects invalid messages and values Kable cannot receive, with the code and the reason', () => {
    expect(decideMessage(track({ event: '' }), seedSettings, ctx)).toEqual({
      kind: 'rejected',
      code: 'missing_event',
      error: 'event is required on a track call (a non-empty string)',
    });
    expect(decideMessage(track({ messageId: 'col\ud800x' }), seedSettings, ctx)).toMatchObject({
      kind: 'rejected',
      code: 'invalid_message_id',
    });
    expect(decideMessage(track({ properties: { units: Infinity } }), seedSettings, ctx)).toMatchObject({
      kind: 'rejected',
      code: 'invalid_number',
      error: expect.stringMatching(/^properties\.units is not a finite number/),
    });
    expect(decideMessage(track(), seedSettings, { ...ctx, defaultType: 'identify' })).toMatchObject({
      kind: 'rejected',
      code: 'invalid_type',
    });
    expect(decideMessage(track(), seedSettings, ctx, 40_000)).toMatchObject({ kind: 'rejected', code: 'too_large' });
  });

  it('skips what is not a usage event, with the reason', () => {
    expect(decideMessage({ type: 'page', userId: 'c1', messageId: 'p1' }, seedSettings, ctx)).toEqual({
      kind: 'skipped',
      messageId: 'p1',
      type: 'page',
      reason: 'not_forwarded',
    });
    expect(decideMessage(track({ userId: undefined, anonymousId: 'a1' }), seedSettings, ctx)).toEqual({
      kind: 'skipped',
      messageId: 'm1',
      type: 'track',
      reason: 'missing_client_id',
    });
  });

  describe('Engage audience membership (where the preview had drifted from ingest)', () => {
    const identify = {
      type: 'identify',
      userId: 'u123',
      messageId: 'i1',
      traits: { order_completed_last_30days: true },
      context: { personas },
    };
    const entered = track({
      event: 'Audience Entered',
      messageId: 't1',
      userId: 'u123',
      properties: { audience_key: 'order_completed_last_30days', order_completed_last_30days: true },
      context: { personas },
    });

    it('an identify with context.personas is membership, not a skip', () => {
      expect(decideMessage(identify, seedSettings, ctx)).toMatchObject({
        kind: 'membership',
        messageId: 'i1',
        membership: { audience: 'order_completed_last_30days', clientId: 'u123', member: true },
      });
    });

    it('an Audience Entered track is membership, not a Kable event, whatever KABLE_EVENTS selects', () => {
      for (const events of [undefined, ['*'], ['API Call'], ['Audience *']]) {
        const settings = decisionSettings({ clientIdField: 'userId', propertyMappings: [], events, eventNameKey: 'event' });
        expect(decideMessage(entered, settings, ctx)).toMatchObject({
          kind: 'membership',
          membership: { audience: 'order_completed_last_30days', clientId: 'u123', member: true, at: Date.parse('2022-01-09T09:32:01Z') },
        });
      }
    });

    it('membership from a browser request is skipped (membership_from_browser)', () => {
      const fromBrowser = { ...ctx, fromBrowser: true };
      expect(decideMessage(identify, seedSettings, fromBrowser)).toEqual({
        kind: 'skipped',
        messageId: 'i1',
        type: 'identify',
        reason: 'membership_from_browser',
      });
      expect(decideMessage(entered, seedSettings, fromBrowser)).toMatchObject({ kind: 'skipped', reason: 'membership_from_browser' });
      // A browser's ordinary track calls still count.
      expect(decideMessage(track(), seedSettings, fromBrowser)).toMatchObject({ kind: 'event' });
    });

    it('other Engage messages are skipped with the Engage reason', () => {
      const computedTrait = { ...identify, context: { personas: { computation_class: 'trait', computation_key: 'ltv' } } };
      expect(decideMessage(computedTrait, seedSettings, ctx)).toMatchObject({ kind: 'skipped', reason: 'engage_computed_trait' });
    });
  });

  describe('KABLE_EVENTS', () => {
    const settings = decisionSettings({ clientIdField: 'userId', propertyMappings: [], events: ['API Call', 'Storage *'] });

    it('forwards the selected events and skips the others as event_not_selected', () => {
      expect(decideMessage(track({ event: 'API Call' }), settings, ctx)).toMatchObject({ kind: 'event' });
      expect(decideMessage(track({ event: 'Storage Used' }), settings, ctx)).toMatchObject({ kind: 'event' });
      expect(decideMessage(track({ event: 'Page Viewed' }), settings, ctx)).toEqual({
        kind: 'skipped',
        messageId: 'm1',
        type: 'track',
        reason: 'event_not_selected',
      });
      expect(decideMessage(track({ event: 'api call' }), settings, ctx)).toMatchObject({ kind: 'skipped', reason: 'event_not_selected' });
    });

    it('skips an event that is not selected before mapping it: no rejection for what would not be sent', () => {
      expect(decideMessage(track({ event: 'Page Viewed', properties: { units: Infinity } }), settings, ctx)).toMatchObject({
        kind: 'skipped',
        reason: 'event_not_selected',
      });
    });

    it('still validates the messages it does not select', () => {
      expect(decideMessage(track({ event: 'Page Viewed', messageId: 42 }), settings, ctx)).toMatchObject({
        kind: 'rejected',
        code: 'invalid_message_id',
      });
    });
  });

  describe('KABLE_EVENT_NAME_KEY', () => {
    const withKey = (eventNameKey: string, mappings = '') =>
      decisionSettings({ clientIdField: 'userId', propertyMappings: parsePropertyMappings(mappings), eventNameKey });

    it('writes the event name at the key, after the property mappings, and leaves the input alone', () => {
      const properties = { segmentX: 'v', meta: { region: 'eu' } };
      const decision = decideMessage(track({ properties }), withKey('meta.event', 'segmentX:kableX'), ctx);
      expect(decision).toEqual({
        kind: 'event',
        event: {
          clientId: 'c1',
          timestamp: '2022-01-09T09:32:01Z',
          transactionId: 'm1',
          data: { kableX: 'v', meta: { region: 'eu', event: 'API Call' } },
        },
      });
      expect(properties).toEqual({ segmentX: 'v', meta: { region: 'eu' } });
      expect(decideMessage(track(), withKey('event'), ctx)).toMatchObject({ event: { data: { event: 'API Call' } } });
    });

    it('the event name wins over a property already there, and the note says so', () => {
      expect(decideMessage(track({ properties: { event: 'from a property', n: 1 } }), withKey('event'), ctx)).toEqual({
        kind: 'event',
        event: expect.objectContaining({ data: { event: 'API Call', n: 1 } }),
        notes: [
          'KABLE_EVENT_NAME_KEY: the event name replaced the value at data.event (from the properties or a mapping); rename that property or map it elsewhere to keep it',
        ],
      });
      // A mapping's target counts too, and so does a value that is not an object on the way.
      expect(decideMessage(track({ properties: { kind: 'x' } }), withKey('event', 'kind:event'), ctx)).toMatchObject({
        event: { data: { event: 'API Call' } },
        notes: [expect.stringContaining('data.event')],
      });
      expect(decideMessage(track({ properties: { meta: 'flat' } }), withKey('meta.event'), ctx)).toMatchObject({
        event: { data: { meta: { event: 'API Call' } } },
        notes: [expect.stringContaining('data.meta (')],
      });
    });
  });

  it('uses the batch body sentAt to correct the device clock, as ingest does', () => {
    const message = track({ timestamp: undefined, originalTimestamp: '2026-01-02T04:04:05Z' });
    expect(decideMessage(message, seedSettings, { ...ctx, batchSentAt: '2026-01-02T04:04:10Z' })).toMatchObject({
      event: { timestamp: '2026-01-02T03:04:00Z' },
    });
  });
});
