import { randomBytes } from 'node:crypto';
import request from 'supertest';
import { basicAuth, type Harness, startHarness } from './support/harness.js';

const ADMIN_TOKEN = 'admin-token-engage-bounds-0123456789';
const MAX_AUDIENCES = 5;
const ORIGIN = 'https://app.example.com';

function identify(audience: string, userId = 'user_a', value = true): Record<string, unknown> {
  return {
    type: 'identify',
    userId,
    messageId: `msg-${randomBytes(6).toString('hex')}`,
    timestamp: '2026-11-01T10:00:00Z',
    traits: { [audience]: value },
    context: { personas: { computation_class: 'audience', computation_key: audience, space_id: 'spa_1' } },
  };
}

const metric = (text: string, line: string): number | undefined => {
  const found = text.split('\n').find((l) => l.startsWith(`${line} `));
  return found === undefined ? undefined : Number(found.slice(line.length + 1));
};

describe('Engage audiences are bounded', () => {
  let h: Harness;
  const lines: string[] = [];

  beforeAll(async () => {
    // The first harness of the file captures the logs (see startHarness).
    h = await startHarness(
      { ADMIN_TOKEN, ENGAGE_MAX_AUDIENCES: String(MAX_AUDIENCES), CORS_ORIGINS: ORIGIN, LOG_LEVEL: 'warn' },
      { logStream: { write: (line: string) => void lines.push(line) } },
    );
  });
  afterAll(async () => {
    await h.close();
  });

  const send = (batch: Record<string, unknown>[], origin?: string) => {
    const req = request(h.url).post('/v1/batch').set('authorization', basicAuth());
    return (origin ? req.set('origin', origin) : req).send({ batch });
  };
  const audiences = async (on: Harness = h) => {
    const res = await request(on.url).get('/v1/audiences').set('authorization', `Bearer ${ADMIN_TOKEN}`);
    expect(res.status).toBe(200);
    return (res.body as { audiences: Array<{ key: string; members: number }> }).audiences;
  };

  it('keeps at most ENGAGE_MAX_AUDIENCES audiences: the rest is skipped, counted and logged once', async () => {
    const first = await send(Array.from({ length: MAX_AUDIENCES + 7 }, (_, i) => identify(`made_up_${i}`)));
    expect(first.status).toBe(200);
    expect(first.body).toMatchObject({ accepted: 12, queued: 0, skipped: 7, rejected: [] });
    // Existing audiences still take membership; new ones still do not.
    const second = await send([identify('made_up_0', 'user_b'), identify('another_one'), identify('and_another', 'user_b')]);
    expect(second.body).toMatchObject({ accepted: 3, skipped: 2 });

    const kept = await audiences();
    expect(kept.map((a) => a.key)).toEqual(['made_up_0', 'made_up_1', 'made_up_2', 'made_up_3', 'made_up_4']);
    expect(kept.at(0)!.members).toBe(2);
    expect(await h.redis.scard(h.key('engage', 'audiences'))).toBe(MAX_AUDIENCES);
    expect(await h.keysMatching(`${h.key('engage', 'aud', 'made_up_5')}:*`)).toEqual([]);
    expect(await h.keysMatching(`${h.key('engage', 'aud', 'another_one')}:*`)).toEqual([]);

    const metrics = (await request(h.url).get('/metrics')).text;
    expect(metric(metrics, 'segment_messages_skipped_total{type="identify",reason="too_many_audiences"}')).toBe(9);
    expect(metric(metrics, 'engage_memberships_recorded_total')).toBe(6);

    const warnings = lines.filter((line) => line.includes('ENGAGE_MAX_AUDIENCES'));
    expect(warnings).toHaveLength(1);
    const warning = JSON.parse(warnings.at(0)!) as { level: number; context: string; msg: string };
    expect(warning).toMatchObject({ level: 40, context: 'Engage' }); // 40: pino's warn
    expect(warning.msg).toContain(`${MAX_AUDIENCES} Engage audiences exist, the limit (ENGAGE_MAX_AUDIENCES)`);
    expect(warning.msg).toContain('"made_up_5"');
  });

  it('never takes membership from a browser request (its write key is public)', async () => {
    const res = await send([identify('made_up_1', 'browser_user'), identify('from_a_page', 'browser_user')], ORIGIN);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ accepted: 2, queued: 0, skipped: 2 });
    const after = await audiences();
    expect(after.find((a) => a.key === 'made_up_1')?.members).toBe(1);
    expect(after.map((a) => a.key)).not.toContain('from_a_page');
    expect(await h.redis.hget(h.key('engage', 'aud', 'made_up_1', 'members'), 'browser_user')).toBeNull();
    const metrics = (await request(h.url).get('/metrics')).text;
    expect(metric(metrics, 'segment_messages_skipped_total{type="identify",reason="membership_from_browser"}')).toBe(2);
  });

  it('two replicas racing to add audiences never go past the limit together', async () => {
    const a = await startHarness({ ADMIN_TOKEN, ENGAGE_MAX_AUDIENCES: String(MAX_AUDIENCES) });
    const b = await startHarness({ ADMIN_TOKEN, ENGAGE_MAX_AUDIENCES: String(MAX_AUDIENCES), REDIS_PREFIX: a.prefix });
    try {
      const results = await Promise.all(
        Array.from({ length: 30 }, (_, i) =>
          request((i % 2 === 0 ? a : b).url)
            .post('/v1/batch')
            .set('authorization', basicAuth())
            .send({ batch: [identify(`race_${i}`)] }),
        ),
      );
      expect(results.map((r) => r.status)).toEqual(Array(30).fill(200));
      expect(results.reduce((n, r) => n + (r.body as { skipped: number }).skipped, 0)).toBe(30 - MAX_AUDIENCES);
      expect(await a.redis.scard(a.key('engage', 'audiences'))).toBe(MAX_AUDIENCES);
      expect(await audiences(b)).toHaveLength(MAX_AUDIENCES);
    } finally {
      await b.close({ keepKeys: true });
      await a.close();
    }
  });

  it('serves a bounded /metrics with many audiences: the 50 largest, the rest summed as (other)', async () => {
    const many = await startHarness({ ADMIN_TOKEN, ENGAGE_MAX_AUDIENCES: '2000' });
    try {
      // 600 audiences; aud_big has 3 members, so it must keep a series of its own.
      const batch = Array.from({ length: 600 }, (_, i) => identify(`aud_${String(i).padStart(4, '0')}`));
      batch.push(identify('aud_big', 'u1'), identify('aud_big', 'u2'), identify('aud_big', 'u3'));
      for (let i = 0; i < batch.length; i += 300) {
        const res = await request(many.url)
          .post('/v1/batch')
          .set('authorization', basicAuth())
          .send({ batch: batch.slice(i, i + 300) });
        expect(res.body).toMatchObject({ skipped: 0, rejected: [] });
      }
      expect(await audiences(many)).toHaveLength(601);

      const [scrapes, live] = await Promise.all([
        Promise.all(Array.from({ length: 4 }, () => request(many.url).get('/metrics'))),
        (async () => {
          const started = performance.now();
          const res = await request(many.url).get('/health/live');
          return { status: res.status, ms: performance.now() - started };
        })(),
      ]);
      expect(live.status).toBe(200);
      expect(live.ms).toBeLessThan(1000);
      const text = scrapes.at(0)!.text;
      const series = (name: string) => text.split('\n').filter((l) => l.startsWith(`${name}{`));
      expect(series('engage_audience_members')).toHaveLength(51);
      expect(series('engage_pending_changes')).toHaveLength(51);
      expect(metric(text, 'engage_audience_members{audience="aud_big"}')).toBe(3);
      expect(metric(text, 'engage_audience_members{audience="(other)"}')).toBe(600 - 50 + 1);
      // About 18 KB; a series per audience made it grow by about 90 bytes per audience.
      expect(Buffer.byteLength(text)).toBeLessThan(32 * 1024);
    } finally {
      await many.close();
    }
  });
});
