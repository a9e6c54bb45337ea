import fc from 'fast-check';
import { deflateSync, gzipSync } from 'node:zlib';
import { ConfigError, loadConfig } from '../src/platform/config/config.js';
import { toKableEvent } from '../src/segment/mapping.js';
import type { KableEvent } from '../src/segment/kable-event.js';
import { decodeJobEvents } from '../src/delivery/job-data.js';
import { basicAuth, type Harness, startHarness, WRITE_KEY } from './support/harness.js';

/**
 * Thousands of random and mutated Segment messages and bodies at every ingest endpoint. The
 * service runs as SERVICE_ROLE=api, so every queued event stays in Redis to be checked: the
 * answer is always a 2xx or a 4xx with a message, never a 5xx, and what is queued is exactly
 * what the answers said, each event valid and each transactionId once.
 */
const RUNS = Number(process.env.FUZZ_RUNS ?? 2000);
const SINGLE = ['track', 'identify', 'page', 'screen', 'group', 'alias'] as const;
const ALIASES = ['t', 'i', 'p', 's', 'g', 'a'] as const;
const BATCH = ['batch', 'import', 'b'] as const;

/** The same path spelled another way: some characters percent-encoded, as an attacker would to dodge a rule on the raw URL. */
const spelled = (path: string) =>
  fc
    .array(fc.boolean(), { minLength: path.length, maxLength: path.length })
    .map((flags) => [...path].map((c, i) => (flags[i] ? `%${c.charCodeAt(0).toString(16).padStart(2, '0')}` : c)).join(''));

type Encoding = 'none' | 'gzip' | 'deflate' | 'mislabelled' | 'br';
const encoding = fc.constantFrom<Encoding>('none', 'none', 'none', 'gzip', 'deflate', 'mislabelled', 'br');

function encode(body: string, how: Encoding): { bytes: Buffer | string; header?: string } {
  if (how === 'gzip') return { bytes: gzipSync(body), header: 'gzip' };
  if (how === 'deflate') return { bytes: deflateSync(body), header: 'deflate' };
  if (how === 'mislabelled') return { bytes: body, header: 'gzip' };
  if (how === 'br') return { bytes: body, header: 'br' };
  return { bytes: body };
}
const RFC3339_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{3})?Z$/;

// Values that tend to break things: wrong types, empty, huge, special numbers and keys.
const nasty = fc.oneof(
  fc.jsonValue({ maxDepth: 4 }),
  fc.constantFrom(null, '', ' ', 0, -1, 1e308, -0, [], {}, '__proto__', 'constructor', '2022-13-45T99:99:99Z', 'NaN', '\u0000', '💸'),
  fc.string({ maxLength: 200 }),
  fc.integer(),
  fc.double(),
  fc.boolean(),
  fc.array(fc.jsonValue({ maxDepth: 2 }), { maxLength: 3 }),
  fc.dictionary(fc.constantFrom('__proto__', 'constructor', 'toString', 'a.b', ''), fc.jsonValue({ maxDepth: 2 })),
);

const timestamp = fc.oneof(
  fc
    .date({ min: new Date('1970-01-01T00:00:00Z'), max: new Date('2100-01-01T00:00:00Z'), noInvalidDate: true })
    .map((d) => d.toISOString()),
  fc.constantFrom('2022-01-09T09:32:01Z', '2022-01-09T09:32:01+02:00', '2022-01-09 09:32:01.5-0700'),
  nasty,
);

const baseMessage = fc.record(
  {
    type: fc.oneof(fc.constantFrom(...SINGLE), nasty),
    event: fc.oneof(fc.constantFrom('API Call', 'Order Completed', ''), nasty),
    userId: fc.oneof(fc.string({ minLength: 1, maxLength: 40 }), fc.integer(), nasty),
    anonymousId: fc.oneof(fc.uuid(), nasty),
    messageId: fc.oneof(fc.uuid(), fc.string({ minLength: 1, maxLength: 120 }), nasty),
    timestamp,
    originalTimestamp: timestamp,
    sentAt: timestamp,
    properties: fc.oneof(fc.dictionary(fc.string({ maxLength: 12 }), fc.jsonValue({ maxDepth: 4 })), nasty),
    context: fc.oneof(fc.record({ groupId: nasty, ip: fc.ipV4() }, { requiredKeys: [] }), nasty),
    integrations: nasty,
    traits: nasty,
    writeKey: fc.oneof(fc.constant(WRITE_KEY), nasty),
  },
  { requiredKeys: [] },
);

const FIELD = fc.constantFrom(
  'type',
  'event',
  'userId',
  'anonymousId',
  'messageId',
  'timestamp',
  'originalTimestamp',
  'sentAt',
  'receivedAt',
  'properties',
  'context',
  'integrations',
);

// A mostly valid track message with a few fields replaced, removed or added.
const mutatedTrack = fc
  .tuple(
    fc.record({
      type: fc.constant('track'),
      event: fc.constant('API Call'),
      userId: fc.string({ minLength: 1, maxLength: 20 }),
      anonymousId: fc.uuid(),
      messageId: fc.uuid(),
      timestamp: fc.constant('2022-01-09T09:32:01Z'),
      properties: fc.dictionary(fc.string({ maxLength: 8 }), fc.jsonValue({ maxDepth: 3 }), { maxKeys: 5 }),
    }),
    // Mostly one well-known field set to an odd value or removed, sometimes more, sometimes any key.
    fc.array(
      fc.tuple(
        fc.constantFrom('set', 'set', 'set', 'delete'),
        fc.oneof({ weight: 6, arbitrary: FIELD }, { weight: 1, arbitrary: fc.string({ maxLength: 12 }) }),
        nasty,
      ),
      { minLength: 1, maxLength: 3 },
    ),
  )
  .map(([message, changes]) => {
    const out: Record<string, unknown> = { ...message };
    for (const [op, key, value] of changes) {
      if (op === 'set') out[key] = value;
      else delete out[key];
    }
    return out;
  });

const message = fc.oneof({ weight: 3, arbitrary: mutatedTrack }, { weight: 2, arbitrary: baseMessage }, { weight: 1, arbitrary: nasty });

const deep = fc.integer({ min: 1, max: 3000 }).map((n) => '['.repeat(n) + ']'.repeat(n));

/** A request body: JSON of the usual shapes, random JSON, raw text or bytes, or deep nesting. */
const body = (endpoint: string) =>
  fc.oneof(
    {
      weight: 6,
      arbitrary:
        endpoint === 'batch'
          ? fc
              .record({ batch: fc.array(message, { maxLength: 30 }), context: nasty }, { requiredKeys: ['batch'] })
              .map((b) => JSON.stringify(b))
          : endpoint === 'webhook'
            ? fc.oneof(message, fc.array(message, { maxLength: 30 })).map((m) => JSON.stringify(m))
            : message.map((m) => JSON.stringify(m)),
    },
    { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 6 }).map((v) => JSON.stringify(v)) },
    { weight: 1, arbitrary: fc.string({ maxLength: 300 }) },
    { weight: 1, arbitrary: fc.uint8Array({ maxLength: 300 }).map((b) => Buffer.from(b).toString('latin1')) },
    { weight: 1, arbitrary: deep },
    { weight: 1, arbitrary: fc.json({ maxDepth: 4 }).map((j) => j.slice(0, Math.max(0, j.length - 1))) },
  );

const request = fc.constantFrom(...SINGLE, ...ALIASES, ...BATCH, 'webhook').chain((path) =>
  fc.record({
    endpoint: fc.constant(path),
    path: spelled(path),
    body: body((BATCH as readonly string[]).includes(path) ? 'batch' : path),
    encoding,
    auth: fc.oneof(
      { weight: 8, arbitrary: fc.constant(basicAuth()) },
      { weight: 1, arbitrary: fc.constant(undefined) },
      { weight: 1, arbitrary: fc.string({ maxLength: 40 }) },
    ),
    contentType: fc.constantFrom('application/json', 'text/plain', 'application/x-www-form-urlencoded', undefined),
  }),
);

describe('fuzz: ingest never answers 5xx and queues only valid events', () => {
  let h: Harness;

  beforeAll(async () => {
    h = await startHarness({ SERVICE_ROLE: 'api' });
  });
  afterAll(async () => {
    await h.close();
  });

  it(`${RUNS} random requests`, async () => {
    let queued = 0;
    const statuses = new Map<number, number>();
    await fc.assert(
      fc.asyncProperty(request, async ({ endpoint, path, body, encoding: how, auth, contentType }) => {
        const headers: Record<string, string> = {};
        if (auth !== undefined) headers.authorization = auth;
        if (contentType !== undefined) headers['content-type'] = contentType;
        const { bytes, header } = encode(body, how);
        if (header !== undefined) headers['content-encoding'] = header;
        const res = await fetch(`${h.url}/v1/${path}`, { method: 'POST', headers, body: bytes });
        const text = await res.text();
        statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
        if (res.status >= 500 || res.status < 200 || (res.status >= 300 && res.status < 400)) {
          throw new Error(`HTTP ${res.status} for ${endpoint}: ${text.slice(0, 300)}`);
        }
        if (res.status === 404) throw new Error(`404 for /v1/${path} (${endpoint}): every spelling of an endpoint reaches it`);
        const answer = JSON.parse(text) as { success?: boolean; queued?: number; message?: unknown; statusCode?: number };
        if (how === 'br') expect(res.status).toBe(415);
        if (res.status >= 400) {
          expect(answer.statusCode).toBe(res.status);
          expect(typeof answer.message).toBe('string');
          expect((answer.message as string).length).toBeGreaterThan(5);
        } else {
          expect(answer.success).toBe(true);
          queued += answer.queued ?? NaN;
        }
      }),
      { numRuns: RUNS, seed: process.env.FUZZ_SEED ? Number(process.env.FUZZ_SEED) : undefined },
    );

    // What is in the queue is exactly what the answers said, and every event is valid for Kable.
    const shards = h.keys.all();
    const jobs = (
      await Promise.all(shards.map((shard) => h.deliveryQueue(shard).getJobs(['wait', 'waiting', 'prioritized', 'delayed', 'active'])))
    ).flat();
    const events: KableEvent[] = jobs.flatMap((job) => decodeJobEvents(job.data));
    expect(events.length).toBe(queued);
    expect(new Set(events.map((e) => e.transactionId)).size).toBe(events.length);
    for (const event of events) {
      expect(Object.keys(event).sort()).toEqual(['clientId', 'data', 'timestamp', 'transactionId']);
      expect(typeof event.clientId === 'string' && event.clientId !== '').toBe(true);
      expect(event.timestamp).toMatch(RFC3339_UTC);
      expect(typeof event.transactionId === 'string' && event.transactionId.length >= 1 && event.transactionId.length <= 100).toBe(true);
      expect(event.data !== null && typeof event.data === 'object' && !Array.isArray(event.data)).toBe(true);
    }
    expect(await h.backlogEvents()).toBe(queued);
    // The run exercised both sides: some requests were accepted and queued, many refused.
    expect(queued).toBeGreaterThan(RUNS / 50);
    expect([...statuses.keys()].filter((s) => s >= 400).length).toBeGreaterThan(1);
  }, 180_000);
});

describe('fuzz: a size limit holds however the path is spelled and however the body is compressed', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ SERVICE_ROLE: 'api' });
  });
  afterAll(async () => {
    await h.close();
  });

  it('a message over 32 KB on any spelling of a single-call endpoint is 413, never queued', async () => {
    const big = JSON.stringify({ type: 'track', event: 'API Call', userId: 'c1', properties: { blob: 'x'.repeat(40_000) } });
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...SINGLE, ...ALIASES).chain((p) => spelled(p)),
        fc.constantFrom<Encoding>('none', 'gzip', 'deflate'),
        async (path, how) => {
          const { bytes, header } = encode(big, how);
          const headers: Record<string, string> = { authorization: basicAuth(), 'content-type': 'application/json' };
          if (header !== undefined) headers['content-encoding'] = header;
          const res = await fetch(`${h.url}/v1/${path}`, { method: 'POST', headers, body: bytes });
          expect(res.status).toBe(413);
          expect(((await res.json()) as { message: string }).message).toMatch(
            /the limit for \/v1\/(track|identify|page|screen|group|alias)\b/,
          );
        },
      ),
      { numRuns: 200 },
    );
    expect(await h.backlogEvents()).toBe(0);
  }, 60_000);
});

describe('fuzz: property mappings from the settings never reach a prototype', () => {
  const base = { KABLE_API_KEY: 'sk_test.x', KABLE_CLIENT_ID: 'kci_x', SEGMENT_WRITE_KEYS: 'wk' };
  // Segments a forged setting would use, often; the sources mostly name keys the properties below hold.
  const segment = fc.oneof(
    { weight: 3, arbitrary: fc.constantFrom('__proto__', 'prototype', 'constructor') },
    { weight: 4, arbitrary: fc.constantFrom('a', 'b', 'units', 'toString') },
    { weight: 1, arbitrary: fc.string({ maxLength: 6 }) },
  );
  const path = fc.array(segment, { minLength: 1, maxLength: 3 }).map((keys) => keys.join('.'));
  // A forged mapping: a key the properties hold, moved through a prototype.
  const forged = fc
    .tuple(
      fc.constantFrom('a', 'b', 'units', 'b.units'),
      fc.constantFrom('__proto__', 'x.__proto__', 'constructor.prototype', 'a.constructor.prototype', 'prototype'),
      segment,
    )
    .map(([from, through, key]) => `${from}:${through}.${key}`);
  const mappings = fc.oneof(
    fc.dictionary(path, path, { minKeys: 1, maxKeys: 4 }).map((m) => JSON.stringify(m)),
    fc.array(fc.tuple(path, path), { minLength: 1, maxLength: 4 }).map((pairs) => pairs.map(([a, b]) => `${a}:${b}`).join(',')),
    forged,
    fc.string({ maxLength: 40 }),
  );
  const value = fc.oneof(fc.jsonValue({ maxDepth: 2 }), fc.dictionary(segment, fc.jsonValue({ maxDepth: 2 }), { maxKeys: 3 }));
  const properties = fc
    .tuple(
      fc.record({ a: value, b: value, units: value, ['__proto__']: value }, { requiredKeys: ['a', 'b', 'units'] }),
      fc.dictionary(segment, value, { maxKeys: 4 }),
    )
    .map(([known, more]) => ({ ...more, ...known }));

  it('a setting either stops boot with a line naming the variable, or maps any properties into plain data', () => {
    const prototypeKeys = Object.getOwnPropertyNames(Object.prototype).sort();
    fc.assert(
      fc.property(mappings, fc.oneof({ weight: 4, arbitrary: fc.constant('userId') }, path), (mapping, clientIdField) => {
        let config;
        try {
          config = loadConfig({ ...base, KABLE_PROPERTIES_MAPPINGS: mapping, KABLE_CLIENT_ID_FIELD: clientIdField });
        } catch (error) {
          expect(error).toBeInstanceOf(ConfigError);
          for (const problem of (error as ConfigError).problems) {
            expect(problem).toMatch(/^(KABLE_PROPERTIES_MAPPINGS|KABLE_CLIENT_ID_FIELD) /);
          }
          return;
        }
        fc.assert(
          fc.property(properties, (raw) => {
            // Parsed with JSON.parse, as a body is: `__proto__` is then an own key.
            const parsed = JSON.parse(JSON.stringify(raw)) as Record<string, unknown>;
            const message = { type: 'track' as const, event: 'API Call', messageId: 'm1', userId: 'c1', properties: parsed };
            const result = toKableEvent(message, config.kable, new Date('2024-01-01T00:00:00Z'));
            expect(Object.getOwnPropertyNames(Object.prototype).sort()).toEqual(prototypeKeys);
            if (result.ok) expect(Object.getPrototypeOf(JSON.parse(JSON.stringify(result.event.data)))).toBe(Object.prototype);
          }),
          { numRuns: 5 },
        );
      }),
      { numRuns: 400 },
    );
    expect(Object.getOwnPropertyNames(Object.prototype).sort()).toEqual(prototypeKeys);
  });
});
