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
