import { randomUUID } from 'node:crypto';
import { createRequire } from 'node:module';
import { gunzipSync } from 'node:zlib';
import Rudder from '@rudderstack/rudder-sdk-node';
import { request } from 'undici';
import type { KableEvent } from '../src/segment/kable-event.js';
import { goBatch, javaImport, pythonBatch, rubyImport, type WireBatch, type WireRequest } from './fixtures/wire/libraries.js';
import { type Harness, startHarness, waitForDrained, WRITE_KEY } from './support/harness.js';
import { waitFor } from './support/wait.js';

/** The legacy `analytics-node` 6 (no types of its own): the part of its API these tests use. */
interface LegacyAnalytics {
  identify(message: Record<string, unknown>, callback?: (err?: Error, data?: unknown) => void): unknown;
  track(message: Record<string, unknown>, callback?: (err?: Error, data?: unknown) => void): unknown;
  flush(callback?: (err?: Error, data?: unknown) => void): Promise<unknown>;
}
const LegacyAnalytics = createRequire(import.meta.url)('analytics-node') as new (
  writeKey: string,
  options: Record<string, unknown>,
) => LegacyAnalytics;

/** Kable's timestamp for a Segment `timestamp`: RFC 3339 UTC, no fraction when it is zero. */
const kableTime = (date: Date | string) => new Date(date).toISOString().replace('.000Z', 'Z');

const HOUR = 3_600_000;
/** How long before sending the skewed device recorded its event. */
const SKEW_DELTA_MS = 5_000;

interface SentMessage {
  type: string;
  messageId: string;
  userId?: string;
  properties?: Record<string, unknown>;
  timestamp?: string;
  originalTimestamp?: string;
  sentAt?: string;
}

/** The batch body a Node client passed to its callbacks (rudder passes the gzipped bytes it sent). */
function sentBody(data: unknown): { batch: SentMessage[] } {
  if (Buffer.isBuffer(data)) return JSON.parse(gunzipSync(data).toString('utf8')) as { batch: SentMessage[] };
  return JSON.parse(JSON.stringify(data)) as { batch: SentMessage[] };
}

describe('real Segment-compatible clients and the wire formats of the libraries not on npm', () => {
  let h: Harness;

  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(async () => {
    await h.close();
  });
  beforeEach(() => h.kable.reset());

  /** Every id reached Kable exactly once; returns the events by id. */
  async function deliveredOnce(ids: string[]): Promise<Map<string, KableEvent>> {
    await waitFor(
      () => ids.filter((id) => h.kable.arrivals.has(id)).length,
      (n) => n === ids.length,
    );
    await waitForDrained(h); // a duplicate queued would have arrived too
    const byId = new Map(h.kable.events.map((e) => [e.transactionId, e]));
    for (const id of ids) {
      expect({ id, arrivals: h.kable.arrivals.get(id) }).toEqual({ id, arrivals: 1 });
    }
    return byId;
  }

  describe('@rudderstack/rudder-sdk-node 3 (gzip by default)', () => {
    it('delivers each track exactly once with clientId, data and transactionId = messageId; originalTimestamp/sentAt skew removed', async () => {
      const errors: unknown[] = [];
      const client = new Rudder(WRITE_KEY, { dataPlaneUrl: h.url, flushAt: 50, errorHandler: (e: unknown) => errors.push(e) });
      const bodies: unknown[] = [];
      const sent = (resolve: () => void) => (err?: unknown, data?: unknown) => {
        if (err) errors.push(err);
        bodies.push(data);
        resolve();
      };
      const before = Date.now();
      const callbacks: Promise<void>[] = [];
      callbacks.push(new Promise((resolve) => client.identify({ userId: 'rudder_1', traits: { plan: 'pro' } }, sent(resolve))));
      const N = 12;
      for (let i = 0; i < N; i++) {
        callbacks.push(
          new Promise((resolve) =>
            client.track({ userId: `rudder_${i % 3}`, event: 'API Call', properties: { units: i, endpoint: '/v1/x' } }, sent(resolve)),
          ),
        );
      }
      await client.flush();
      await Promise.all(callbacks);
      const after = Date.now();
      expect(errors).toEqual([]);

      // What rudder actually sent (its first call goes out alone, at once; the rest on flush).
      const messages = [...new Map(bodies.flatMap((b) => sentBody(b).batch).map((m) => [m.messageId, m])).values()];
      const tracks = messages.filter((m) => m.type === 'track');
      expect(tracks).toHaveLength(N);
      for (const m of tracks) {
        // rudder sends originalTimestamp and a per-message sentAt, never timestamp
        expect(m.timestamp).toBeUndefined();
        expect(typeof m.originalTimestamp).toBe('string');
        expect(typeof m.sentAt).toBe('string');
      }

      const byId = await deliveredOnce(tracks.map((m) => m.messageId));
      expect(h.kable.events).toHaveLength(N); // the identify is not usage
      for (const m of tracks) {
        const event = byId.get(m.messageId)!;
        expect(event).toMatchObject({ clientId: m.userId, transactionId: m.messageId, data: m.properties });
        const skew = Date.parse(m.sentAt!) - Date.parse(m.originalTimestamp!);
        const at = Date.parse(event.timestamp);
        expect(at).toBeGreaterThanOrEqual(before - skew);
        expect(at).toBeLessThanOrEqual(after - skew);
      }
    });
  });

  describe('legacy analytics-node 6 (host option)', () => {
    it('delivers each track exactly once with clientId, data, transactionId = messageId and its timestamp', async () => {
      const client = new LegacyAnalytics(WRITE_KEY, { host: h.url, flushAt: 50, flushInterval: 60_000 });
      const errors: unknown[] = [];
      const bodies: unknown[] = [];
      const sent = (resolve: () => void) => (err?: unknown, data?: unknown) => {
        if (err) errors.push(err);
        bodies.push(data);
        resolve();
      };
      const callbacks: Promise<void>[] = [];
      callbacks.push(new Promise((resolve) => client.identify({ userId: 'legacy_1', traits: { plan: 'pro' } }, sent(resolve))));
      const N = 12;
      for (let i = 0; i < N; i++) {
        callbacks.push(
          new Promise((resolve) =>
            client.track({ userId: `legacy_${i % 4}`, event: 'API Call', properties: { units: i, nested: { a: i } } }, sent(resolve)),
          ),
        );
      }
      await client.flush();
      await Promise.all(callbacks);
      expect(errors).toEqual([]);

      const messages = [...new Map(bodies.flatMap((b) => sentBody(b).batch).map((m) => [m.messageId, m])).values()];
      const tracks = messages.filter((m) => m.type === 'track');
      expect(tracks).toHaveLength(N);
      for (const m of tracks) expect(m.messageId).toMatch(/^node-[0-9a-f]{32}-[0-9a-f-]{36}$/);

      const byId = await deliveredOnce(tracks.map((m) => m.messageId));
      expect(h.kable.events).toHaveLength(N);
      for (const m of tracks) {
        expect(byId.get(m.messageId)).toEqual({
          clientId: m.userId,
          timestamp: kableTime(m.timestamp!),
          transactionId: m.messageId,
          data: m.properties,
        });
      }
    });
  });

  // The four libraries that are not on npm: each request is rebuilt from the library's source
  // (test/fixtures/wire/libraries.ts cites the files) and sent the way the library sends it.
  const libraries: Array<{ name: string; path: string; build: (batch: WireBatch) => WireRequest }> = [
    { name: 'analytics-ruby', path: '/v1/import', build: (b) => rubyImport(b) },
    { name: 'analytics-java', path: '/v1/import/', build: (b) => javaImport(b) },
    { name: 'analytics-python (gzip=True)', path: '/v1/batch', build: (b) => pythonBatch(b) },
    { name: 'analytics-go', path: '/v1/batch', build: (b) => goBatch(b) },
  ];

  async function send(wire: WireRequest) {
    const res = await request(`${h.url}${wire.path}`, { method: 'POST', headers: wire.headers, body: wire.body });
    const text = await res.body.text();
    return { status: res.statusCode, text };
  }

  /** The status the library treats as success, with the server's answer in the failure message. */
  function expectStatus(res: { status: number; text: string }, status: number): void {
    if (res.status !== status) throw new Error(`expected HTTP ${status}, the service answered ${res.status}: ${res.text}`);
  }

  describe.each(libraries)('$name', ({ path, build }) => {
    it(`posts to ${path}; every track arrives exactly once with its fields and timestamp; 200`, async () => {
      const base = Date.now() - 60_000;
      const tracks = Array.from({ length: 5 }, (_, i) => ({
        type: 'track' as const,
        userId: `wire_user_${i % 2}`,
        messageId: randomUUID(),
        event: 'API Call',
        // characters the libraries escape differently (Gson: < > & = '; Go: < > &; Python: non-ASCII)
        properties: { units: i + 1, zeta: 'last', alpha: `a<b & c='d' é ✓ ${i}`, nested: { z: 1, a: [true, null, 2.5] } },
        timestamp: new Date(base + i * 1_234),
      }));
      const identify = {
        type: 'identify' as const,
        userId: 'wire_user_0',
        messageId: randomUUID(),
        traits: { plan: 'pro' },
        timestamp: new Date(base),
      };
      const wire = build({ writeKey: WRITE_KEY, calls: [identify, ...tracks], sentAt: new Date() });
      expect(wire.path).toBe(path);
      JSON.parse(wire.json); // the fixture is valid JSON

      const res = await send(wire);
      expectStatus(res, 200);
      expect(JSON.parse(res.text)).toMatchObject({ success: true, accepted: 6 });

      const byId = await deliveredOnce(tracks.map((t) => t.messageId));
      expect(h.kable.events).toHaveLength(tracks.length);
      for (const t of tracks) {
        expect(byId.get(t.messageId)).toEqual({
          clientId: t.userId,
          timestamp: kableTime(t.timestamp),
          transactionId: t.messageId,
          data: t.properties,
        });
      }
    });

    it('device clock one hour ahead, originalTimestamp and sentAt but no timestamp: Kable gets receivedAt − (sentAt − originalTimestamp)', async () => {
      const device = Date.now() + HOUR;
      const messageId = randomUUID();
      const call = {
        type: 'track' as const,
        userId: 'skewed_device',
        messageId,
        event: 'API Call',
        properties: { units: 1 },
        originalTimestamp: new Date(device - SKEW_DELTA_MS),
      };
      const wire = build({ writeKey: WRITE_KEY, calls: [call], sentAt: new Date(device) });
      expect(wire.json).not.toContain('"timestamp"');
      const before = Date.now();
      const res = await send(wire);
      const after = Date.now();
      expectStatus(res, 200);

      const byId = await deliveredOnce([messageId]);
      const at = Date.parse(byId.get(messageId)!.timestamp);
      expect(at).toBeGreaterThanOrEqual(before - SKEW_DELTA_MS);
      expect(at).toBeLessThanOrEqual(after - SKEW_DELTA_MS);
    });
  });
});
