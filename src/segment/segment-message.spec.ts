import fc from 'fast-check';
import { derivedMessageId, jsonBytesUpperBound, messageBytesIfLarge, validateMessage } from './segment-message.js';

const valid = { type: 'track', event: 'API Call', userId: 'u', messageId: 'm' };

describe('validateMessage', () => {
  it('accepts a minimal track and keeps unknown fields', () => {
    expect(validateMessage({ ...valid, extra: 1 })).toEqual({ ok: true, message: { ...valid, extra: 1 } });
  });

  it('takes the type from the endpoint', () => {
    const { type: _type, ...noType } = valid;
    expect(validateMessage(noType, 'track')).toMatchObject({ ok: true, message: { type: 'track' } });
    expect(validateMessage({ ...valid, type: 'identify' }, 'track')).toMatchObject({ ok: false, code: 'invalid_type' });
  });

  it.each([
    [null, 'not_an_object', 'message must be a JSON object'],
    [[1], 'not_an_object', 'message must be a JSON object'],
    [{ ...valid, type: 'purchase' }, 'invalid_type', 'type must be one of track, identify, page, screen, group, alias'],
    [{ ...valid, messageId: 'x'.repeat(101) }, 'invalid_message_id', 'messageId is 101 characters; the limit is 100'],
    [{ ...valid, messageId: 42 }, 'invalid_message_id', 'messageId must be a non-empty string'],
    [{ ...valid, userId: undefined }, 'missing_identity', 'userId or anonymousId is required (a non-empty string)'],
    [{ ...valid, userId: '' }, 'missing_identity', 'userId or anonymousId is required (a non-empty string)'],
    [{ ...valid, timestamp: 'yesterday' }, 'invalid_timestamp', 'timestamp must be an ISO-8601 date-time such as 2022-01-09T09:32:01Z'],
    [{ ...valid, originalTimestamp: '2022-13-45T99:00:00Z' }, 'invalid_timestamp', 'originalTimestamp must be an ISO-8601 date-time'],
    [{ ...valid, sentAt: 12 }, 'invalid_timestamp', 'sentAt must be an ISO-8601'],
    [{ ...valid, properties: 'x' }, 'invalid_field', 'properties must be an object'],
    [{ ...valid, context: [] }, 'invalid_field', 'context must be an object'],
    [{ ...valid, event: undefined }, 'missing_event', 'event is required on a track call (a non-empty string)'],
    [{ ...valid, event: '  ' }, 'missing_event', 'event is required on a track call'],
  ])('rejects %j', (message, code, error) => {
    const result = validateMessage(message);
    expect(result).toMatchObject({ ok: false, code });
    expect(result.ok ? '' : result.error).toContain(error);
  });

  it('accepts anonymousId alone, numeric userIds, and identify without event', () => {
    expect(validateMessage({ ...valid, userId: undefined, anonymousId: 'a' }).ok).toBe(true);
    expect(validateMessage({ ...valid, userId: 123 }).ok).toBe(true);
    expect(validateMessage({ type: 'identify', userId: 'u', traits: { a: 1 } }).ok).toBe(true);
  });

  it('rejects a message over 32 KB when its size is given', () => {
    expect(validateMessage(valid, undefined, 32 * 1024 + 1)).toMatchObject({ ok: false, code: 'too_large' });
    expect(validateMessage(valid, undefined, 32 * 1024).ok).toBe(true);
  });

  it('derives a stable messageId when none is given, ignoring sentAt', () => {
    const a = validateMessage({ type: 'track', event: 'e', userId: 'u', sentAt: '2024-01-01T00:00:00Z' });
    const b = validateMessage({ type: 'track', event: 'e', userId: 'u', sentAt: '2024-01-01T00:00:09Z' });
    const c = validateMessage({ type: 'track', event: 'other', userId: 'u' });
    expect(a.ok && b.ok && c.ok).toBe(true);
    if (a.ok && b.ok && c.ok) {
      expect(a.message.messageId).toBe(b.message.messageId);
      expect(a.message.messageId).not.toBe(c.message.messageId);
      expect(a.message.messageId.length).toBeLessThanOrEqual(100);
    }
    expect(derivedMessageId({ a: 1 })).toMatch(/^derived-[0-9a-f]{40}$/);
  });
});

describe('jsonBytesUpperBound / messageBytesIfLarge', () => {
  it('is never below the real encoded size', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        expect(jsonBytesUpperBound(value)).toBeGreaterThanOrEqual(Buffer.byteLength(JSON.stringify(value)));
      }),
      { numRuns: 2000 },
    );
    // The longest numbers JSON can hold: 17 significant digits after "-0.00000", or before an exponent.
    for (const n of [-0.0000012919601491912461, -1.2345678901234567e-308, -123456789012345680000, -Number.MAX_VALUE]) {
      expect(jsonBytesUpperBound(n)).toBeGreaterThanOrEqual(JSON.stringify(n).length);
    }
    fc.assert(
      fc.property(fc.double({ noNaN: true, noDefaultInfinity: true }), (n) => {
        expect(jsonBytesUpperBound(n)).toBeGreaterThanOrEqual(JSON.stringify(n).length);
      }),
      { numRuns: 20_000 },
    );
    const tricky = { quote: '"\\\n\u0001', emoji: '😀😀', cjk: '漢字', nested: [1.5e300, -0, null, true, { a: '' }] };
    expect(jsonBytesUpperBound(tricky)).toBeGreaterThanOrEqual(Buffer.byteLength(JSON.stringify(tricky)));
  });

  it('measures exactly only the messages that could be over 32 KB', () => {
    expect(messageBytesIfLarge({ type: 'track', properties: { a: 'x'.repeat(100) } })).toBeUndefined();
    const big = { type: 'track', properties: { blob: 'x'.repeat(33 * 1024) } };
    expect(messageBytesIfLarge(big)).toBe(Buffer.byteLength(JSON.stringify(big)));
    // Under the limit but with a loose bound (6 bytes per character): measured, and found small.
    const medium = { blob: 'x'.repeat(6000) };
    expect(messageBytesIfLarge(medium)).toBe(6011);
  });
});

describe('validateMessage: ids that are not well-formed Unicode', () => {
  it.each([
    [{ ...valid, messageId: 'col\ud800x' }, 'invalid_message_id', 'messageId is not well-formed Unicode'],
    [{ ...valid, messageId: 'col\udbffx' }, 'invalid_message_id', 'messageId is not well-formed Unicode'],
    [{ ...valid, messageId: '\udc00' }, 'invalid_message_id', 'messageId is not well-formed Unicode'],
    [{ ...valid, userId: 'u\ud800' }, 'invalid_identity', 'userId is not well-formed Unicode'],
    [{ ...valid, userId: undefined, anonymousId: 'a\udfff' }, 'invalid_identity', 'anonymousId is not well-formed Unicode'],
    [{ ...valid, anonymousId: 'a\udfff' }, 'invalid_identity', 'anonymousId is not well-formed Unicode'],
    [{ ...valid, userId: Infinity, anonymousId: 'a' }, 'invalid_identity', 'userId is not a finite number'],
  ])('rejects %j', (message, code, error) => {
    const result = validateMessage(message);
    expect(result).toMatchObject({ ok: false, code });
    expect(result.ok ? '' : result.error).toContain(error);
  });

  it('accepts U+FFFD itself and surrogate pairs (emoji)', () => {
    expect(validateMessage({ ...valid, messageId: 'col\ufffdx', userId: 'u😀' }).ok).toBe(true);
    expect(validateMessage({ ...valid, messageId: 'col😀x' }).ok).toBe(true);
  });

  it('property: two different accepted messageIds are never the same bytes (the Redis key)', () => {
    const id = fc.string({ unit: 'binary', minLength: 1, maxLength: 6 });
    fc.assert(
      fc.property(id, id, (a, b) => {
        const ra = validateMessage({ ...valid, messageId: a });
        const rb = validateMessage({ ...valid, messageId: b });
        if (ra.ok && rb.ok && a !== b) expect(Buffer.from(a, 'utf8').equals(Buffer.from(b, 'utf8'))).toBe(false);
        for (const [text, result] of [
          [a, ra],
          [b, rb],
        ] as const) {
          if (Buffer.from(text, 'utf8').toString('utf8') !== text) expect(result.ok).toBe(false);
        }
      }),
      { numRuns: 5000 },
    );
    // The case from the issue: three ids, one Redis key today.
    const accepted = ['col\ud800x', 'col\udbffx', 'col\ufffdx'].filter((messageId) => validateMessage({ ...valid, messageId }).ok);
    expect(accepted).toEqual(['col\ufffdx']);
  });
});
