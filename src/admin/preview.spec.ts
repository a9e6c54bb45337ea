import { decisionSettings } from '../segment/decision.js';
import { previewMessage } from './preview.js';

const settings = { clientIdField: 'userId', propertyMappings: [{ from: 'segmentX', to: 'kableX' }] };
const now = new Date('2026-01-02T03:04:05Z');

describe('previewMessage', () => {
  it('returns the Kable event a track call maps to', () => {
    expect(
      previewMessage(
        {
          type: 'track',
          event: 'API Call',
          userId: 'c1',
          messageId: 'm1',
          timestamp: '2022-01-09T09:32:01Z',
          properties: { segmentX: 1, n: 2 },
        },
        settings,
        now,
      ),
    ).toEqual({ wouldSend: { clientId: 'c1', timestamp: '2022-01-09T09:32:01Z', transactionId: 'm1', data: { kableX: 1, n: 2 } } });
  });

  it('shows the timestamp as Segment computes it for a skewed device clock (receivedAt - (sentAt - originalTimestamp))', () => {
    const skewed = {
      event: 'API Call',
      userId: 'c1',
      messageId: 'm-skew',
      originalTimestamp: '2026-01-02T04:00:00Z',
      sentAt: '2026-01-02T04:00:10Z',
    };
    expect(previewMessage(skewed, settings, now)).toEqual({
      wouldSend: { clientId: 'c1', timestamp: '2026-01-02T03:03:55Z', transactionId: 'm-skew', data: {} },
    });
  });

  it('reads a message without type as a track call and stamps it with now when it has no timestamp', () => {
    expect(previewMessage({ event: 'API Call', userId: 42, messageId: 'm2' }, settings, now)).toEqual({
      wouldSend: { clientId: '42', timestamp: '2026-01-02T03:04:05Z', transactionId: 'm2', data: {} },
    });
  });

  it('says why a message would be skipped', () => {
    expect(previewMessage({ type: 'identify', userId: 'c1', messageId: 'm3' }, settings, now)).toEqual({
      skipped: { type: 'identify', reason: 'not_forwarded' },
    });
    expect(previewMessage({ type: 'track', event: 'x', anonymousId: 'a1', messageId: 'm4' }, settings, now)).toEqual({
      skipped: { type: 'track', reason: 'missing_client_id' },
    });
  });

  it('says why a message is invalid', () => {
    expect(previewMessage({ type: 'track', userId: 'c1' }, settings, now)).toEqual({
      invalid: { code: 'missing_event', error: 'event is required on a track call (a non-empty string)' },
    });
    expect(previewMessage([1], settings, now)).toEqual({ invalid: { code: 'not_an_object', error: 'message must be a JSON object' } });
  });
});

describe('previewMessage: the decision ingest makes', () => {
  const personas = { computation_class: 'audience', computation_key: 'order_completed_last_30days' };

  it('shows Engage audience membership as membership, as ingest stores it (identify and Audience Entered)', () => {
    const identify = {
      type: 'identify',
      userId: 'u1',
      messageId: 'i1',
      traits: { order_completed_last_30days: true },
      context: { personas },
    };
    expect(previewMessage(identify, settings, now)).toMatchObject({
      membership: { audience: 'order_completed_last_30days', clientId: 'u1', member: true, at: now.getTime() },
    });
    const entered = {
      type: 'track',
      event: 'Audience Entered',
      userId: 'u1',
      messageId: 't1',
      properties: { audience_key: 'order_completed_last_30days', order_completed_last_30days: false },
      context: { personas },
    };
    expect(previewMessage(entered, settings, now)).toMatchObject({ membership: { clientId: 'u1', member: false } });
  });

  it('shows event_not_selected, the event name in data and the note when it replaced a property', () => {
    const selected = decisionSettings({ ...settings, events: ['API Call'], eventNameKey: 'event' });
    expect(previewMessage({ event: 'Page Viewed', userId: 'c1', messageId: 'm5' }, selected, now)).toEqual({
      skipped: { type: 'track', reason: 'event_not_selected' },
    });
    expect(previewMessage({ event: 'API Call', userId: 'c1', messageId: 'm6', properties: { event: 'x' } }, selected, now)).toEqual({
      wouldSend: { clientId: 'c1', timestamp: '2026-01-02T03:04:05Z', transactionId: 'm6', data: { event: 'API Call' } },
      notes: [expect.stringContaining('KABLE_EVENT_NAME_KEY: the event name replaced the value at data.event')],
    });
  });

  it('shows a value Kable cannot receive as invalid', () => {
    expect(
      previewMessage({ event: 'API Call', userId: 'c1', messageId: 'm7', properties: { units: Infinity } }, settings, now),
    ).toMatchObject({
      invalid: { code: 'invalid_number', error: expect.stringContaining('properties.units is not a finite number') },
    });
  });
});
