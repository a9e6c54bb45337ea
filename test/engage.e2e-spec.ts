import { randomBytes } from 'node:crypto';
import request from 'supertest';
import { EngageService } from '../src/engage/engage.service.js';
import { membershipTransactionId } from '../src/engage/audience-diff.js';
import { DeliveryProducer } from '../src/delivery/delivery.producer.js';
import type { KableEvent } from '../src/segment/kable-event.js';
import { basicAuth, type Harness, startHarness, track, waitForDrained } from './support/harness.js';
import { sleep, waitFor } from './support/wait.js';

const ADMIN_TOKEN = 'admin-token-0123456789abcdef';
const AUDIENCE = 'order_completed_last_30days';

function identify(userId: string, value: unknown, overrides: Record<string, unknown> = {}, audience = AUDIENCE): Record<string, unknown> {
  return {
    type: 'identify',
    userId,
    messageId: `msg-${randomBytes(6).toString('hex')}`,
    timestamp: '2026-11-01T10:00:00Z',
    traits: { [audience]: value },
    context: { personas: { computation_class: 'audience', computation_id: 'aud_1', computation_key: audience, space_id: 'spa_1' } },
    ...overrides,
  };
}

function audienceTrack(userId: string, entered: boolean, timestamp = '2026-11-01T10:00:00Z'): Record<string, unknown> {
  return {
    type: 'track',
    event: entered ? 'Audience Entered' : 'Audience Exited',
    userId,
    messageId: `msg-${randomBytes(6).toString('hex')}`,
    timestamp,
    properties: { audience_key: AUDIENCE, [AUDIENCE]: entered },
    context: { personas: { computation_class: 'audience', computation_id: 'aud_1', computation_key: AUDIENCE, space_id: 'spa_1' } },
  };
}

const byClient = (a: KableEvent, b: KableEvent) => a.clientId.localeCompare(b.clientId) || a.timestamp.localeCompare(b.timestamp);

describe('Engage audiences', () => {
  let h: Harness;

  async function send(batch: Record<string, unknown>[]) {
    const res = await request(h.url).post('/v1/batch').set('authorization', basicAuth()).send({ batch });
    expect(res.status).toBe(200);
    return res.body as { accepted: number; queued: number; skipped: number };
  }

  async function sync(): Promise<{ status: string; report: { events: number; audiences: Array<{ audience: string; events: number }> } }> {
    const res = await request(h.url).post('/v1/audiences/sync').set('authorization', `Bearer ${ADMIN_TOKEN}`);
    expect(res.status).toBe(200);
    expect(res.body.status).toBe('completed');
    return res.body;
  }

  async function audiences() {
    const res = await request(h.url).get('/v1/audiences').set('authorization', `Bearer ${ADMIN_TOKEN}`);
    expect(res.status).toBe(200);
    return res.body;
  }

  describe('with one service', () => {
    beforeEach(async () => {
      h = await startHarness({ ADMIN_TOKEN });
    });
    afterEach(async () => {
      await h.close();
    });

    it('the admin endpoints need the admin token, not a write key', async () => {
      expect((await request(h.url).get('/v1/audiences')).status).toBe(401);
      expect((await request(h.url).post('/v1/audiences/sync').set('authorization', basicAuth())).status).toBe(401);
      expect((await request(h.url).post('/v1/audiences/sync').set('authorization', 'Bearer wrong-token-0123456789')).status).toBe(401);
    });

    it('the first sync of a new audience sends every member once; audience tracks are not usage', async () => {
      const body = await send([
        identify('user_a', true, { timestamp: '2026-11-01T10:00:01Z' }),
        identify('user_b', true, { timestamp: '2026-11-01T10:00:02.250Z' }),
        identify('user_gone', false), // never a member as far as Kable knows: nothing to send
        audienceTrack('user_c', true, '2026-11-01T10:00:03Z'),
      ]);
      expect(body).toMatchObject({ accepted: 4, queued: 0, skipped: 0 });

      const before = await audiences();
      expect(before.syncInterval).toBe('2h30m');
      expect(before.audiences).toEqual([{ key: AUDIENCE, members: 3, pendingChanges: 4, lastSync: null, nextSync: before.nextSync }]);
      expect(Date.parse(before.nextSync) - Date.now()).toBeGreaterThan(2 * 3600_000);

      const result = await sync();
      expect(result.report.events).toBe(3);
      expect(result.report.audiences).toEqual([{ audience: AUDIENCE, checked: 4, events: 3 }]);
      await h.kable.waitForEvents(3);
      await waitForDrained(h);
      expect([...h.kable.events].sort(byClient)).toEqual([
        {
          clientId: 'user_a',
          timestamp: '2026-11-01T10:00:01Z',
          transactionId: membershipTransactionId(AUDIENCE, 'user_a', 1),
          data: { [AUDIENCE]: true },
        },
        {
          clientId: 'user_b',
          timestamp: '2026-11-01T10:00:02.250Z',
          transactionId: membershipTransactionId(AUDIENCE, 'user_b', 1),
          data: { [AUDIENCE]: true },
        },
        {
          clientId: 'user_c',
          timestamp: '2026-11-01T10:00:03Z',
          transactionId: membershipTransactionId(AUDIENCE, 'user_c', 1),
          data: { [AUDIENCE]: true },
        },
      ]);

      const after = await audiences();
      expect(after.audiences).toEqual([
        {
          key: AUDIENCE,
          members: 3,
          pendingChanges: 0,
          lastSync: { at: expect.any(String), events: 3, result: 'ok' },
          nextSync: after.nextSync,
        },
      ]);

      const metrics = (await request(h.url).get('/metrics')).text;
      expect(metrics).toContain('engage_memberships_recorded_total 4');
      expect(metrics).toContain('engage_sync_events_total 3');
      expect(metrics).toContain('engage_syncs_total{result="ok"} 1');

      // Nothing changed: the next sync sends nothing.
      expect((await sync()).report.events).toBe(0);
    });

    it('later syncs send only the users whose membership changed; a re-entry is a new event', async () => {
      await send([identify('user_a', true), identify('user_b', true), identify('user_c', true)]);
      await sync();
      await h.kable.waitForEvents(3);

      await send([
        identify('user_d', true, { timestamp: '2026-11-02T08:00:00Z' }),
        identify('user_a', false, { timestamp: '2026-11-02T09:00:00Z' }),
        identify('user_b', true, { timestamp: '2026-11-02T09:30:00Z' }), // unchanged
      ]);
      expect((await audiences()).audiences[0]).toMatchObject({ members: 3, pendingChanges: 2 });
      expect((await sync()).report.events).toBe(2);
      await h.kable.waitForEvents(5);
      await waitForDrained(h);
      expect(h.kable.events.slice(3).sort(byClient)).toEqual([
        {
          clientId: 'user_a',
          timestamp: '2026-11-02T09:00:00Z',
          transactionId: membershipTransactionId(AUDIENCE, 'user_a', 2),
          data: { [AUDIENCE]: false },
        },
        {
          clientId: 'user_d',
          timestamp: '2026-11-02T08:00:00Z',
          transactionId: membershipTransactionId(AUDIENCE, 'user_d', 1),
          data: { [AUDIENCE]: true },
        },
      ]);

      await send([audienceTrack('user_a', true, '2026-11-03T08:00:00Z')]);
      expect((await sync()).report.events).toBe(1);
      await h.kable.waitForEvents(6);
      expect(h.kable.events[5]).toEqual({
        clientId: 'user_a',
        timestamp: '2026-11-03T08:00:00Z',
        transactionId: membershipTransactionId(AUDIENCE, 'user_a', 3),
        data: { [AUDIENCE]: true },
      });
      expect(new Set(h.kable.events.map((e) => e.transactionId)).size).toBe(6);
    });

    it('entering and leaving inside one window sends nothing; a late older message does not win', async () => {
      await send([identify('member', true)]);
      await sync();
      await h.kable.waitForEvents(1);

      await send([
        identify('visitor', true, { timestamp: '2026-11-02T08:00:00Z' }),
        identify('visitor', false, { timestamp: '2026-11-02T09:00:00Z' }),
        identify('member', false, { timestamp: '2026-11-02T08:00:00Z' }),
        audienceTrack('member', true, '2026-11-02T09:00:00Z'),
        // Arrives last but happened first: the newer exit stands.
        identify('late', false, { timestamp: '2026-11-02T10:00:00Z' }),
        identify('late', true, { timestamp: '2026-11-02T07:00:00Z' }),
      ]);
      expect((await audiences()).audiences[0]).toMatchObject({ members: 1 });
      const result = await sync();
      expect(result.report.events).toBe(0);
      await waitForDrained(h);
      expect(h.kable.count).toBe(1);
    });

    it('the same identify repeated (one per identifier of a profile) sends once, at the first one', async () => {
      await send([
        identify('user_a', true, { anonymousId: 'anon-1', timestamp: '2026-11-01T10:00:00Z' }),
        identify('user_a', true, { anonymousId: 'anon-2', timestamp: '2026-11-01T10:00:01Z' }),
      ]);
      await send([identify('user_a', true, { timestamp: '2026-11-01T10:00:02Z' })]);
      expect((await audiences()).audiences[0]).toMatchObject({ members: 1, pendingChanges: 1 });
      expect((await sync()).report.events).toBe(1);
      await h.kable.waitForEvents(1);
      await waitForDrained(h);
      expect(h.kable.events).toEqual([
        {
          clientId: 'user_a',
          timestamp: '2026-11-01T10:00:00Z',
          transactionId: membershipTransactionId(AUDIENCE, 'user_a', 1),
          data: { [AUDIENCE]: true },
        },
      ]);
      expect(h.kable.requests.flatMap((r) => r.events)).toHaveLength(1);
    });

    it('computed traits, non-boolean values, a missing key or client id are skipped, not membership and not usage', async () => {
      const personas = (cls: string, key?: string) => ({ personas: { computation_class: cls, computation_key: key } });
      const res = await request(h.url)
        .post('/v1/batch')
        .set('authorization', basicAuth())
        .send({
          batch: [
            identify('user_a', 42, { traits: { lifetime_value: 42 }, context: personas('trait', 'lifetime_value') }),
            identify('user_a', 'true'),
            identify('user_a', null),
            identify('user_a', true, { context: personas('audience') }),
            identify('', true, { userId: undefined, anonymousId: 'anon-only' }),
            audienceTrack('user_a', true, '2026-11-01T10:00:00Z'), // the only membership
            { ...audienceTrack('user_b', true), context: personas('trait', AUDIENCE) },
            { ...audienceTrack('user_b', true), properties: { audience_key: AUDIENCE, [AUDIENCE]: 'yes' } },
            identify('user_c', true, { context: {} }), // an ordinary identify: not forwarded, as before
            track({ userId: 'user_d', messageId: 'usage-1' }), // ordinary usage still flows
          ],
        });
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ success: true, accepted: 10, queued: 1, deduplicated: 0, skipped: 8, rejected: [] });
      const metrics = (await request(h.url).get('/metrics')).text;
      expect(metrics).toContain('segment_messages_skipped_total{type="identify",reason="engage_computed_trait"} 1');
      expect(metrics).toContain('segment_messages_skipped_total{type="identify",reason="engage_not_boolean"} 2');
      expect(metrics).toContain('segment_messages_skipped_total{type="identify",reason="engage_missing_audience_key"} 1');
      expect(metrics).toContain('segment_messages_skipped_total{type="identify",reason="engage_missing_client_id"} 1');
      expect(metrics).toContain('segment_messages_skipped_total{type="track",reason="engage_computed_trait"} 1');
      expect(metrics).toContain('segment_messages_skipped_total{type="track",reason="engage_not_boolean"} 1');

      await h.kable.waitForEvents(1);
      expect(h.kable.events.map((e) => e.transactionId)).toEqual(['usage-1']);
      expect((await audiences()).audiences).toEqual([expect.objectContaining({ key: AUDIENCE, members: 1, pendingChanges: 1 })]);
      expect((await sync()).report.events).toBe(1);
      await h.kable.waitForEvents(2);
      expect(h.kable.events[1]).toMatchObject({ clientId: 'user_a', data: { [AUDIENCE]: true } });
    });

    it('messages that arrive while a sync runs belong to the next window', async () => {
      await send([identify('user_a', true), identify('user_b', true)]);
      const producer = h.app.get(DeliveryProducer);
      const enqueue = producer.enqueue.bind(producer);
      let release!: () => void;
      const gate = new Promise<void>((resolve) => (release = resolve));
      let entered!: () => void;
      const syncing = new Promise<void>((resolve) => (entered = resolve));
      producer.enqueue = async (events, source) => {
        entered();
        await gate;
        return enqueue(events, source);
      };
      const running = request(h.url)
        .post('/v1/audiences/sync')
        .set('authorization', `Bearer ${ADMIN_TOKEN}`)
        .then((r) => r);
      await syncing;
      await send([identify('user_a', false, { timestamp: '2026-11-01T11:00:00Z' }), identify('user_c', true)]);
      expect((await audiences()).audiences[0]).toMatchObject({ members: 2, pendingChanges: 4 });
      release();
      const first = await running;
      expect(first.body.report.events).toBe(2);
      await h.kable.waitForEvents(2);
      expect(h.kable.events.map((e) => [e.clientId, e.data[AUDIENCE]]).sort()).toEqual([
        ['user_a', true],
        ['user_b', true],
      ]);

      expect((await sync()).report.events).toBe(2);
      await h.kable.waitForEvents(4);
      expect(
        h.kable.events
          .slice(2)
          .map((e) => [e.clientId, e.data[AUDIENCE]])
          .sort(),
      ).toEqual([
        ['user_a', false],
        ['user_c', true],
      ]);
    });

    it('answers 503 and accepts nothing when membership cannot be stored', async () => {
      const engage = h.app.get(EngageService);
      engage.record = () => Promise.reject(new Error('Connection is closed.'));
      const res = await request(h.url)
        .post('/v1/batch')
        .set('authorization', basicAuth())
        .send({ batch: [identify('user_a', true)] });
      expect(res.status).toBe(503);
      expect(res.headers['retry-after']).toBe('5');
      expect(res.body).toEqual({
        statusCode: 503,
        error: 'Service Unavailable',
        message: 'the messages could not be stored (Redis is unavailable); nothing was accepted, retry later',
      });
    });

    it('a sync that fails midway resumes on retry without losing or double counting a change', async () => {
      await h.close();
      h = await startHarness({ ADMIN_TOKEN, KABLE_BATCH_SIZE: '50' });
      const users = Array.from({ length: 1000 }, (_, i) => `user_${String(i).padStart(4, '0')}`);
      await send(users.map((u) => identify(u, true)));

      // The seventh delivery job is stored, then the sync step fails before it can record what it sent.
      const producer = h.app.get(DeliveryProducer);
      const enqueue = producer.enqueue.bind(producer);
      const calls: KableEvent[][] = [];
      let queuedByFailedAttempt = 0;
      producer.enqueue = async (events, source) => {
        const call = calls.push(events);
        const jobId = await enqueue(events, source);
        if (call === 7) {
          queuedByFailedAttempt = calls.length; // the whole step (up to four jobs) was started
          throw new Error('simulated crash after queuing');
        }
        return jobId;
      };
      const res = await request(h.url).post('/v1/audiences/sync').set('authorization', `Bearer ${ADMIN_TOKEN}`);
      expect(res.status).toBe(200);
      expect(res.body.status).toBe('completed');
      const job = await h.app.get(EngageService).queue.getJob(res.body.jobId);
      expect(job?.attemptsMade).toBe(2);
      for (const events of calls) expect(events.length).toBeLessThanOrEqual(50);

      await h.kable.waitForEvents(1000);
      await waitForDrained(h);
      expect(h.kable.count).toBe(1000);
      expect(h.kable.events.map((e) => e.clientId).sort()).toEqual(users);
      for (const event of h.kable.events) expect(event.transactionId).toBe(membershipTransactionId(AUDIENCE, event.clientId, 1));
      // Only events queued by the failed attempt and not yet recorded as sent came again, with the same
      // transactionIds (Kable counted them once); the crashed job's events are among them.
      const beforeCrash = calls.slice(0, queuedByFailedAttempt).flat();
      const repeated = [...h.kable.arrivals].filter(([, n]) => n > 1).map(([id]) => id);
      const crashed = calls.at(6)!;
      expect(repeated.length).toBeGreaterThanOrEqual(crashed.length);
      expect(repeated.length).toBeLessThan(beforeCrash.length);
      for (const id of repeated) expect(beforeCrash.some((e) => e.transactionId === id)).toBe(true);
      for (const e of crashed) expect(repeated).toContain(e.transactionId);
      expect([...h.kable.arrivals.values()].every((n) => n <= 2)).toBe(true);
      const committedBeforeCrash = beforeCrash.length - repeated.length;
      expect(res.body.report.events).toBe(1000 - committedBeforeCrash);
      expect((await audiences()).audiences[0]).toMatchObject({
        members: 1000,
        pendingChanges: 0,
        lastSync: { events: 1000 - committedBeforeCrash, result: 'ok' },
      });
    }, 30_000);
  });

  it('two boots of the service (two replicas) leave exactly one sync scheduler', async () => {
    h = await startHarness({ ADMIN_TOKEN, ENGAGE_SYNC_INTERVAL: '2h' });
    const queue = h.app.get(EngageService).queue;
    const afterFirstBoot = (await queue.getJobSchedulers()).at(0);
    const second = await startHarness({ ADMIN_TOKEN, ENGAGE_SYNC_INTERVAL: '2h', REDIS_PREFIX: h.config.redis.prefix });
    try {
      const first = await queue.getJobSchedulers();
      expect(afterFirstBoot).toBeDefined();
      expect(first).toHaveLength(1);
      // The second boot neither adds a scheduler nor moves the next run.
      expect(first.at(0)!.next).toBe(afterFirstBoot!.next);
      expect(afterFirstBoot!.next! - Date.now()).toBeGreaterThan(7_000_000);
      expect(first[0]).toMatchObject({ key: 'engage-audience-sync', every: 7_200_000 });
      expect(await queue.getGlobalConcurrency()).toBe(1);
      const counts = await queue.getJobCounts('delayed', 'waiting', 'active');
      expect(counts).toEqual({ delayed: 1, waiting: 0, active: 0 });
      const next = (await audiences()).nextSync;
      expect(Date.parse(next)).toBe(first.at(0)!.next);
    } finally {
      await second.close();
      await h.close();
    }
  });

  it('two replicas asked to sync at once run one sync at a time and send each change once', async () => {
    h = await startHarness({ ADMIN_TOKEN });
    const second = await startHarness({ ADMIN_TOKEN, REDIS_PREFIX: h.config.redis.prefix });
    try {
      await send([identify('user_a', true), identify('user_b', true)]);
      let running = 0;
      let most = 0;
      for (const replica of [h, second]) {
        const engage = replica.app.get(EngageService);
        const sync = engage.sync.bind(engage);
        engage.sync = async () => {
          most = Math.max(most, ++running);
          try {
            await sleep(300); // long enough for the other replica's sync to overlap, were they not serialised
            return await sync();
          } finally {
            running -= 1;
          }
        };
      }
      const answers = await Promise.all(
        [h, second].map((replica) => request(replica.url).post('/v1/audiences/sync').set('authorization', `Bearer ${ADMIN_TOKEN}`)),
      );
      expect(answers.map((a) => a.status)).toEqual([200, 200]);
      expect(answers.map((a) => a.body.report.events).sort()).toEqual([0, 2]);
      expect(most).toBe(1);
      // Either replica's delivery worker may deliver them, each to its own Kable emulator.
      const delivered = () => [h, second].flatMap((replica) => replica.kable.requests.flatMap((r) => r.events));
      await waitFor(delivered, (events) => events.length >= 2);
      await waitForDrained(h); // one queue for both replicas
      expect(
        delivered()
          .map((e) => e.clientId)
          .sort(),
      ).toEqual(['user_a', 'user_b']);
    } finally {
      await second.close();
      await h.close();
    }
  });
});
