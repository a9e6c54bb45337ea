import type { SegmentMessage } from './segment-message.js';
import { parsePropertyMappings } from './property-mappings.js';
import fc from 'fast-check';
import { canonicalUtc, eventTimestamp, mapProperties, readClientId, toKableEvent, toRfc3339 } from './mapping.js';

const receivedAt = new Date('2024-05-01T12:00:00.000Z');

function track(fields: Partial<SegmentMessage>): SegmentMessage {
  return { type: 'track', event: 'API Call', messageId: 'm-1', userId: 'u-1', ...fields };
}

describe('toKableEvent', () => {
  it("maps the seed's example to the seed's Kable body (clientId = userId)", () => {
    const message = track({
      event: 'your_event_type',
      userId: 'yourcompanyuser_1234567890',
      messageId: '022bb90c-bbac-11e4-8dfc-aa07a5b093db',
      timestamp: '2022-01-09T09:32:01Z',
      properties: { segmentX: 'important data point', messageId: 'msg_ABC123XYZ456', objectCount: 12, bankAccountBalance: 399.99 },
    });
    const result = toKableEvent(
      message,
      { clientIdField: 'userId', propertyMappings: parsePropertyMappings('segmentX : kableX') },
      receivedAt,
    );
    expect(result).toEqual({
      ok: true,
      event: {
        clientId: 'yourcompanyuser_1234567890',
        timestamp: '2022-01-09T09:32:01Z',
        transactionId: '022bb90c-bbac-11e4-8dfc-aa07a5b093db',
        data: { kableX: 'important data point', messageId: 'msg_ABC123XYZ456', objectCount: 12, bankAccountBalance: 399.99 },
      },
    });
    // The renamed key keeps its place, as in the seed's body.
    expect(Object.keys(result.ok ? result.event.data : {})).toEqual(['kableX', 'messageId', 'objectCount', 'bankAccountBalance']);
  });

  it('reads the client id from a nested field with dot notation', () => {
    const settings = { clientIdField: 'context.groupId', propertyMappings: [] };
    expect(toKableEvent(track({ context: { groupId: 'acme' } }), settings, receivedAt)).toMatchObject({
      ok: true,
      event: { clientId: 'acme' },
    });
    const fromProperties = { clientIdField: 'properties.customerId', propertyMappings: [] };
    expect(toKableEvent(track({ properties: { customerId: 'c-9' } }), fromProperties, receivedAt)).toMatchObject({
      ok: true,
      event: { clientId: 'c-9', data: { customerId: 'c-9' } },
    });
  });

  it('skips a message without a client id, with the reason', () => {
    const settings = { clientIdField: 'context.groupId', propertyMappings: [] };
    expect(toKableEvent(track({ context: {} }), settings, receivedAt)).toEqual({ ok: false, reason: 'missing_client_id' });
    expect(
      toKableEvent(track({ userId: undefined, anonymousId: 'a' }), { clientIdField: 'userId', propertyMappings: [] }, receivedAt),
    ).toEqual({
      ok: false,
      reason: 'missing_client_id',
    });
    expect(toKableEvent(track({ context: { groupId: { id: 1 } } }), settings, receivedAt)).toEqual({
      ok: false,
      reason: 'invalid_client_id',
    });
  });
});

describe('readClientId', () => {
  it('turns numbers into strings', () => {
    expect(readClientId({ userId: 12345 }, 'userId')).toEqual({ ok: true, clientId: '12345' });
    expect(readClientId({ context: { groupId: 7.5 } }, 'context.groupId')).toEqual({ ok: true, clientId: '7.5' });
  });
  it('treats empty strings and null as missing, booleans as invalid', () => {
    expect(readClientId({ userId: '' }, 'userId')).toEqual({ ok: false, reason: 'missing_client_id' });
    expect(readClientId({ userId: null }, 'userId')).toEqual({ ok: false, reason: 'missing_client_id' });
    expect(readClientId({ userId: true }, 'userId')).toEqual({ ok: false, reason: 'invalid_client_id' });
  });
});

describe('eventTimestamp', () => {
  it('uses timestamp, then originalTimestamp, then the receive time, as RFC 3339 UTC', () => {
    expect(eventTimestamp({ timestamp: '2022-01-09T10:32:01+01:00', originalTimestamp: '2021-01-01T00:00:00Z' }, receivedAt)).toBe(
      '2022-01-09T09:32:01Z',
    );
    expect(eventTimestamp({ originalTimestamp: '2021-06-01T08:00:00.250Z' }, receivedAt)).toBe('2021-06-01T08:00:00.250Z');
    expect(eventTimestamp({}, receivedAt)).toBe('2024-05-01T12:00:00Z');
  });

  it('corrects a device clock as Segment does: receivedAt - (sentAt - originalTimestamp)', () => {
    // The device clock is an hour ahead: it says 13:00:05 sent, 13:00:00 happened; received at 12:00:00 (receivedAt).
    const skewed = { originalTimestamp: '2024-05-01T13:00:00Z', sentAt: '2024-05-01T13:00:05.500Z' };
    expect(eventTimestamp(skewed, receivedAt)).toBe('2024-05-01T11:59:54.500Z');
    // The batch body's sentAt serves a message that has none of its own; the message's own wins.
    expect(eventTimestamp({ originalTimestamp: '2024-05-01T13:00:00Z' }, receivedAt, '2024-05-01T13:00:10Z')).toBe('2024-05-01T11:59:50Z');
    expect(eventTimestamp(skewed, receivedAt, '2024-05-01T13:00:10Z')).toBe('2024-05-01T11:59:54.500Z');
    // An explicit timestamp is taken as it is; without sentAt the original is kept.
    expect(eventTimestamp({ ...skewed, timestamp: '2024-05-01T10:00:00Z' }, receivedAt)).toBe('2024-05-01T10:00:00Z');
    expect(eventTimestamp({ originalTimestamp: '2024-05-01T13:00:00Z', sentAt: 'nonsense' }, receivedAt)).toBe('2024-05-01T13:00:00Z');
  });

  it('skips a timestamp that is not a date, and rolls over what Date rolls over', () => {
    expect(eventTimestamp({ timestamp: 'yesterday', originalTimestamp: '2021-01-01T00:00:00.000Z' }, receivedAt)).toBe(
      '2021-01-01T00:00:00Z',
    );
    expect(eventTimestamp({ timestamp: '2026-02-30T00:00:00Z' }, receivedAt)).toBe('2026-03-02T00:00:00Z');
    expect(eventTimestamp({ timestamp: '2026-01-09T24:00:00Z' }, receivedAt)).toBe('2026-01-10T00:00:00Z');
    expect(eventTimestamp({ timestamp: '2026-13-01T00:00:00Z' }, receivedAt)).toBe('2024-05-01T12:00:00Z');
  });

  it('answers from the fast path exactly what parsing and formatting a Date answers', () => {
    const slow = (s: string) => {
      const date = new Date(s);
      return Number.isNaN(date.getTime()) ? undefined : toRfc3339(date);
    };
    expect(canonicalUtc('2026-01-09T09:32:01.123Z')).toBe('2026-01-09T09:32:01.123Z');
    expect(canonicalUtc('2024-02-29T23:59:59.000Z')).toBe('2024-02-29T23:59:59Z');
    expect(canonicalUtc('2026-02-29T00:00:00Z')).toBeUndefined();
    const two = (max: number) => fc.integer({ min: 0, max }).map((n) => String(n).padStart(2, '0'));
    const stamp = fc
      .tuple(
        fc.integer({ min: 0, max: 9999 }).map((y) => String(y).padStart(4, '0')),
        two(19),
        two(39),
        two(29),
        two(69),
        two(69),
        fc.constantFrom('', '.000', '.001', '.5', '.999', '.1234', '.x12'),
        fc.constantFrom('Z', 'z', '+00:00', ''),
        fc.constantFrom('T', ' ', 't'),
      )
      .map(([y, mo, d, h, mi, se, frac, zone, t]) => `${y}-${mo}-${d}${t}${h}:${mi}:${se}${frac}${zone}`);
    fc.assert(
      fc.property(stamp, (s) => {
        expect(canonicalUtc(s) ?? slow(s)).toBe(slow(s));
      }),
      { numRuns: 50_000 },
    );
  });
});

describe('mapProperties', () => {
  it('moves nested sources to nested targets and leaves the rest unchanged', () => {
    const properties = { nested: { field: 'v', keep: 1 }, other: true };
    const data = mapProperties(properties, parsePropertyMappings('nested.field:dimension,other:flags.other'));
    expect(data).toEqual({ nested: { keep: 1 }, dimension: 'v', flags: { other: true } });
    expect(properties).toEqual({ nested: { field: 'v', keep: 1 }, other: true }); // input untouched
  });

  it('does nothing for a mapping whose source is absent', () => {
    expect(mapProperties({ a: 1 }, parsePropertyMappings('missing:x,deep.missing:y'))).toEqual({ a: 1 });
  });

  it('passes properties through when there are no mappings, and handles no properties', () => {
    expect(mapProperties({ a: 1, b: { c: 2 } }, [])).toEqual({ a: 1, b: { c: 2 } });
    expect(mapProperties(undefined, parsePropertyMappings('a:b'))).toEqual({});
  });

  it('swaps two keys when they map onto each other', () => {
    expect(mapProperties({ a: 1, b: 2 }, parsePropertyMappings('a:b,b:a'))).toEqual({ b: 1, a: 2 });
  });

  it('moves falsy values too', () => {
    expect(mapProperties({ zero: 0, no: false, nil: null }, parsePropertyMappings('zero:z,no:n,nil:x'))).toEqual({
      z: 0,
      n: false,
      x: null,
    });
  });
});

describe('mapProperties: safe with any input', () => {
  const polluted = () => Object.keys(Object.prototype).length > 0 || Object.getOwnPropertyNames(Object.prototype).length !== protoNames;
  const protoNames = Object.getOwnPropertyNames(Object.prototype).length;
  afterEach(() => {
    for (const key of Object.keys(Object.prototype)) delete (Object.prototype as Record<string, unknown>)[key];
  });

  it('carries a property named "__proto__" (JSON.parse makes it an own property) as data', () => {
    const properties = JSON.parse('{"__proto__":{"x":1},"a":2,"n":{"f":3}}') as Record<string, unknown>;
    expect(JSON.stringify(mapProperties(properties, []))).toBe('{"__proto__":{"x":1},"a":2,"n":{"f":3}}');
    expect(JSON.stringify(mapProperties(properties, parsePropertyMappings('a:b')))).toBe('{"__proto__":{"x":1},"b":2,"n":{"f":3}}');
    expect(JSON.stringify(mapProperties(properties, parsePropertyMappings('n.f:g')))).toBe('{"__proto__":{"x":1},"a":2,"n":{},"g":3}');
    expect(Object.getPrototypeOf(mapProperties(properties, parsePropertyMappings('a:b')))).toBe(Object.prototype);
  });

  it('never writes into Object.prototype, even with mappings that skipped validation', () => {
    const properties = JSON.parse('{"src":1,"__proto__":{"src":2}}') as Record<string, unknown>;
    for (const to of ['__proto__.polluted', 'x.__proto__.y', 'constructor.prototype.z', '__proto__']) {
      mapProperties(properties, [{ from: 'src', to }]);
      mapProperties(properties, [{ from: '__proto__.src', to }]);
      expect(polluted()).toBe(false);
    }
  });

  it('does not change a nested object of the input that a target writes into', () => {
    const properties = { flags: { a: 1 }, other: true };
    expect(mapProperties(properties, parsePropertyMappings('other:flags.other'))).toEqual({ flags: { a: 1, other: true } });
    expect(properties).toEqual({ flags: { a: 1 }, other: true });
  });

  it('property: any properties and mappings leave the prototype and the input alone, and keep every value as data', () => {
    const key = fc.constantFrom('a', 'b', 'c', '__proto__', 'constructor', 'prototype', 'toString', 'hasOwnProperty');
    const path = fc.array(key, { minLength: 1, maxLength: 3 }).map((keys) => keys.join('.'));
    const value = fc.letrec<{ value: unknown }>((tie) => ({
      value: fc.oneof(
        { depthSize: 'small' },
        fc.integer(),
        fc.string({ maxLength: 3 }),
        fc.constant(null),
        fc.array(fc.tuple(key, tie('value')), { maxLength: 4 }).map((entries) => Object.fromEntries(entries)),
      ),
    })).value;
    const properties = fc
      .array(fc.tuple(key, value), { maxLength: 6 })
      .map((entries) => Object.fromEntries(entries) as Record<string, unknown>);
    const mappings = fc.uniqueArray(fc.record({ from: path, to: path }), { selector: (m) => m.from, maxLength: 3 });
    fc.assert(
      fc.property(properties, mappings, (props, maps) => {
        const before = JSON.stringify(props);
        const data = mapProperties(props, maps);
        expect(polluted()).toBe(false);
        expect(JSON.stringify(props)).toBe(before);
        expect(Object.getPrototypeOf(data)).toBe(Object.prototype);
        if (maps.length === 0) expect(JSON.stringify(data)).toBe(before);
        // Every mapping whose source was there put that value at its target, as data (when no
        // other mapping writes the same target or reads the same source, or inside or around them).
        const related = (p: string, q: string) => p === q || p.startsWith(`${q}.`) || q.startsWith(`${p}.`);
        for (const { from, to } of maps) {
          const moved = getOwn(props, from);
          const overlaps = maps.some((m) => m.from !== from && (related(m.to, to) || related(m.from, from)));
          if (moved !== undefined && !overlaps) expect(JSON.stringify(getOwn(data, to))).toBe(JSON.stringify(moved));
        }
      }),
      { numRuns: 3000 },
    );
  });
});

/** getPath for the test: own properties only, without relying on the code under test. */
function getOwn(source: unknown, path: string): unknown {
  let current = source;
  for (const key of path.split('.')) {
    if (current === null || typeof current !== 'object' || !Object.hasOwn(current, key)) return undefined;
    current = (current as Record<string, unknown>)[key];
  }
  return current;
}

describe('toKableEvent: values Kable cannot receive are rejected, never sent', () => {
  const settings = { clientIdField: 'userId', propertyMappings: parsePropertyMappings('units:quantity') };

  it('rejects a property that is not a finite number (1e400 parses to Infinity), naming the field', () => {
    expect(toKableEvent(track({ properties: JSON.parse('{"units":1e400}') as Record<string, unknown> }), settings, receivedAt)).toEqual({
      ok: false,
      code: 'invalid_number',
      error: 'properties.units is not a finite number (a JSON number such as 1e400 overflows to Infinity): Kable cannot receive it',
    });
    const nested = JSON.parse('{"ok":1,"a":{"b":[1,-1e400]}}') as Record<string, unknown>;
    expect(toKableEvent(track({ properties: nested }), settings, receivedAt)).toMatchObject({
      ok: false,
      code: 'invalid_number',
      error: expect.stringMatching(/^properties\.a\.b\.1 is not a finite number/),
    });
    expect(toKableEvent(track({ properties: { n: 1.5e308, m: -0, z: 0 } }), settings, receivedAt).ok).toBe(true);
  });

  it('rejects a client id that is not a finite number or not well-formed Unicode, naming the field', () => {
    const fromProperties = { clientIdField: 'properties.customerId', propertyMappings: [] };
    expect(toKableEvent(track({ properties: { customerId: Infinity } }), fromProperties, receivedAt)).toEqual({
      ok: false,
      code: 'invalid_client_id',
      error:
        'properties.customerId (the Kable clientId, KABLE_CLIENT_ID_FIELD) is not a finite number (a JSON number such as 1e400 overflows to Infinity): Kable cannot receive it',
    });
    const fromGroup = { clientIdField: 'context.groupId', propertyMappings: [] };
    expect(toKableEvent(track({ context: { groupId: 'acme\ud800' } }), fromGroup, receivedAt)).toEqual({
      ok: false,
      code: 'invalid_client_id',
      error:
        'context.groupId (the Kable clientId, KABLE_CLIENT_ID_FIELD) is not well-formed Unicode: it holds a lone UTF-16 surrogate, which UTF-8 cannot encode',
    });
    expect(toKableEvent(track({ context: { groupId: 'acme\ufffd😀' } }), fromGroup, receivedAt)).toMatchObject({
      ok: true,
      event: { clientId: 'acme\ufffd😀' },
    });
  });
});
