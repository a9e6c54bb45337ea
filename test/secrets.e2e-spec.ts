import { createHmac } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeJobEvents } from '../src/delivery/job-data.js';
import { KableEmulator } from '../tools/kable-emulator.js';
import type { DeliverJobData } from '../src/delivery/queues.js';
import { connectTestRedis, deleteKeys, keysMatching, redisEnv, type TestRedis, testPrefix, track } from './support/harness.js';
import { ensureBuilt, ServiceProcess } from './support/processes.js';
import { waitFor } from './support/wait.js';

/**
 * Runs the built service (`node dist/main.js`) as a child process with known secret values,
 * drives it through every error it has, then searches everything it printed, every HTTP answer
 * and everything it left in Redis for those values.
 */
const KABLE_API_KEY = 'sk_test.KABLESECRET_a1b2c3d4e5f6';
const WRITE_KEYS = ['wk_WRITESECRET_one_9f8e7d', 'wk_WRITESECRET_two_1a2b3c'] as const;
const ADMIN_TOKEN = 'adm_ADMINSECRET_0011223344';
const SHARED_SECRET = 'ss_SHAREDSECRET_5566778899';
const SECRETS = [KABLE_API_KEY, ...WRITE_KEYS, ADMIN_TOKEN, SHARED_SECRET];

/** The secret values and the encodings they travel in (HTTP Basic is base64). */
function needles(secrets: string[]): string[] {
  return secrets.flatMap((s) => [s, Buffer.from(`${s}:`).toString('base64'), Buffer.from(s).toString('base64').replace(/=+$/, '')]);
}

function leaks(text: string, secrets = SECRETS): string[] {
  return needles(secrets).filter((n) => text.includes(n));
}

async function dumpRedis(redis: TestRedis, prefix: string): Promise<string> {
  const parts: string[] = [];
  for (const key of await keysMatching(redis, `${prefix}:*`)) {
    const type = await redis.type(key);
    parts.push(key);
    if (type === 'string') parts.push((await redis.get(key)) ?? '');
    else if (type === 'hash') {
      const hash = await redis.hgetall(key);
      parts.push(JSON.stringify(hash));
      // Delivery jobs hold large event lists deflated (src/delivery/job-data.ts): search them decoded.
      if (hash.data?.includes('"deflated"')) parts.push(JSON.stringify(decodeJobEvents(JSON.parse(hash.data) as DeliverJobData)));
    } else if (type === 'list') parts.push(JSON.stringify(await redis.lrange(key, 0, -1)));
    else if (type === 'zset') parts.push(JSON.stringify(await redis.zrange(key, 0, -1, 'WITHSCORES')));
    else if (type === 'set') parts.push(JSON.stringify(await redis.smembers(key)));
    else if (type === 'stream') parts.push(JSON.stringify(await redis.xrange(key, '-', '+')));
  }
  return parts.join('\n');
}

describe('no secret in logs, answers or Redis', () => {
  const cwd = mkdtempSync(join(tmpdir(), 'kable-secrets-')); // no .env here
  const redis = connectTestRedis();
  const prefix = testPrefix();
  const kable = new KableEmulator({ clientId: 'kci_secret_test', apiKey: KABLE_API_KEY });

  beforeAll(async () => {
    ensureBuilt();
    await kable.start();
  }, 120_000);
  afterAll(async () => {
    await kable.stop();
    await deleteKeys(redis, prefix);
    redis.disconnect();
    rmSync(cwd, { recursive: true, force: true });
  });

  it('through bad keys, bad tokens, bad signatures, Kable 401/500/network errors, replay and shutdown', async () => {
    const service = await ServiceProcess.start(
      {
        KABLE_API_KEY,
        KABLE_CLIENT_ID: 'kci_secret_test',
        KABLE_BASE_URL: kable.url,
        SEGMENT_WRITE_KEYS: WRITE_KEYS.join(','),
        SEGMENT_SHARED_SECRET: SHARED_SECRET,
        ADMIN_TOKEN,
        ...redisEnv(),
        REDIS_PREFIX: prefix,
        LOG_LEVEL: 'debug',
        KABLE_FLUSH_INTERVAL: '50ms',
        KABLE_RETRY_HORIZON: '1s',
        KABLE_RETRY_MAX_DELAY: '100ms',
        KABLE_REQUEST_TIMEOUT: '1s',
      },
      { cwd },
    );
    const base = service.url;
    const answers: string[] = [];
    const call = async (path: string, init: { method?: string; headers?: Record<string, string>; body?: string } = {}) => {
      const res = await fetch(`${base}${path}`, { method: init.method ?? 'GET', headers: init.headers, body: init.body });
      const text = await res.text();
      answers.push(`${res.status} ${JSON.stringify([...res.headers])} ${text}`);
      return { status: res.status, text };
    };
    const json = { 'content-type': 'application/json' };
    const basic = (key: string) => ({ ...json, authorization: `Basic ${Buffer.from(`${key}:`).toString('base64')}` });
    const bearer = (token: string) => ({ ...json, authorization: `Bearer ${token}` });
    try {
      expect((await call('/health/live')).status).toBe(200);
      kable.respondWith((events) => {
        if (events.some((e) => e.clientId === 'c401')) return { status: 401, body: { message: 'Unauthorized' } };
        if (events.some((e) => e.clientId === 'c500')) return { status: 500, body: { message: 'Internal error' } };
        if (events.some((e) => e.clientId === 'cnet')) return { status: 0, destroy: true };
        return undefined;
      });

      // Refused callers: wrong write key, admin token on ingest, write key on admin, wrong token, bad signature.
      expect((await call('/v1/track', { method: 'POST', headers: basic('wk_wrong_key_123'), body: JSON.stringify(track()) })).status).toBe(
        401,
      );
      expect(
        (await call('/v1/track', { method: 'POST', headers: json, body: JSON.stringify(track({ writeKey: 'wk_wrong' })) })).status,
      ).toBe(401);
      expect(
        (await call('/v1/batch', { method: 'POST', headers: bearer(ADMIN_TOKEN), body: JSON.stringify({ batch: [track()] }) })).status,
      ).toBe(401);
      expect((await call('/v1/track', { method: 'POST', headers: basic(ADMIN_TOKEN), body: JSON.stringify(track()) })).status).toBe(401);
      expect((await call('/v1/dead-letters', { headers: basic(WRITE_KEYS[0]) })).status).toBe(401);
      expect((await call('/v1/dead-letters', { headers: bearer(WRITE_KEYS[1]) })).status).toBe(401);
      expect((await call('/v1/dead-letters', { headers: bearer(`${ADMIN_TOKEN}0`) })).status).toBe(401);
      const hook = JSON.stringify(track({ userId: 'ok' }));
      expect((await call('/v1/webhook', { method: 'POST', headers: { ...json, 'x-signature': 'ab'.repeat(20) }, body: hook })).status).toBe(
        401,
      );
      // Malformed bodies that carry secrets.
      expect((await call('/v1/track', { method: 'POST', headers: json, body: `{"writeKey":"${WRITE_KEYS[0]}", x` })).status).toBe(400);
      expect((await call('/v1/track', { method: 'POST', headers: json, body: `${SHARED_SECRET}` })).status).toBe(400);
      expect((await call('/v1/batch', { method: 'POST', headers: basic(WRITE_KEYS[0]), body: `{"batch":[${ADMIN_TOKEN}]}` })).status).toBe(
        400,
      );
      expect(
        (
          await call('/v1/track', {
            method: 'POST',
            headers: basic(WRITE_KEYS[0]),
            body: JSON.stringify(track({ timestamp: KABLE_API_KEY })),
          })
        ).status,
      ).toBe(400);

      // Accepted: a signed webhook and one more delivered, three that Kable refuses (401, 500 until the horizon, network error).
      const signature = createHmac('sha1', SHARED_SECRET).update(hook).digest('hex');
      const clientIds = (text: string) =>
        new Set((JSON.parse(text) as { deadLetters: { event: { clientId: string } }[] }).deadLetters.map((l) => l.event.clientId));
      const deadLetters = () => call('/v1/dead-letters', { headers: bearer(ADMIN_TOKEN) });
      // One kind at a time, so that each reaches Kable in its own request.
      for (const userId of ['c401', 'c500', 'cnet']) {
        const res = await call('/v1/track', { method: 'POST', headers: basic(WRITE_KEYS[1]), body: JSON.stringify(track({ userId })) });
        expect(res.status).toBe(200);
        await waitFor(deadLetters, (r) => r.status === 200 && clientIds(r.text).has(userId));
      }
      expect(
        (await call('/v1/track', { method: 'POST', headers: basic(WRITE_KEYS[1]), body: JSON.stringify(track({ userId: 'ok' })) })).status,
      ).toBe(200);
      expect((await call('/v1/webhook', { method: 'POST', headers: { ...json, 'x-signature': signature }, body: hook })).status).toBe(200);
      await kable.waitForEvents(2);
      const failed = await deadLetters();
      const total = (JSON.parse(failed.text) as { total: number }).total;
      expect(total).toBe(3);
      expect((await call('/v1/dead-letters/replay', { method: 'POST', headers: bearer(ADMIN_TOKEN), body: '{"all":true}' })).status).toBe(
        200,
      );
      await waitFor(
        () => call('/v1/dead-letters', { headers: bearer(ADMIN_TOKEN) }),
        (r) => (JSON.parse(r.text) as { total: number }).total === total,
      );
      await call('/health/ready');
      await call('/metrics');
    } finally {
      service.kill('SIGTERM');
      await service.waitForExit(20_000).finally(() => service.stop());
    }

    const printed = service.output.join('\n');
    expect(printed).toMatch(/listening on/);
    expect(printed).toMatch(/dead letters/); // the errors were really logged
    expect(kable.requests.some((r) => r.status === 401)).toBe(true);
    expect(kable.requests.some((r) => r.status === 500)).toBe(true);
    expect(kable.requests.some((r) => r.status === 0)).toBe(true); // dropped connections
    expect(leaks(printed)).toEqual([]);
    expect(leaks(answers.join('\n'))).toEqual([]);
    const stored = await dumpRedis(redis, prefix);
    expect(stored).toMatch(/"transactionId"/); // job data and dead letters were read
    expect(leaks(stored)).toEqual([]);
  }, 60_000);

  it('an invalid configuration exits non-zero, names each problem and never prints a value', async () => {
    const shortToken = 'adm_SHORT_77';
    const cases: { env: Record<string, string>; problems: RegExp[]; secrets: string[] }[] = [
      {
        env: {
          KABLE_API_KEY,
          KABLE_CLIENT_ID: 'kci_x',
          SEGMENT_WRITE_KEYS: `${WRITE_KEYS[0]},${ADMIN_TOKEN}`,
          ADMIN_TOKEN,
          SEGMENT_SHARED_SECRET: SHARED_SECRET,
          PORT: '99999',
          BACKLOG_LIMIT: 'lots',
          DEAD_LETTER_RETENTION: 'forever',
        },
        problems: [/ADMIN_TOKEN must differ/, /PORT /, /BACKLOG_LIMIT /, /DEAD_LETTER_RETENTION /],
        secrets: SECRETS,
      },
      {
        env: { KABLE_API_KEY, SEGMENT_WRITE_KEYS: WRITE_KEYS.join(','), ADMIN_TOKEN: shortToken, KABLE_BASE_URL: 'ftp://x' },
        problems: [/KABLE_CLIENT_ID is required/, /ADMIN_TOKEN must be at least 16 characters/, /KABLE_BASE_URL /],
        secrets: [...SECRETS, shortToken],
      },
    ];
    for (const { env, problems, secrets } of cases) {
      const service = await ServiceProcess.spawn({ ...env, ...redisEnv(), REDIS_PREFIX: prefix }, { cwd });
      try {
        expect((await service.waitForExit(20_000)).code).toBe(1);
      } finally {
        await service.stop();
      }
      const printed = service.output.join('\n');
      for (const problem of problems) expect(printed).toMatch(problem);
      expect(leaks(printed, secrets)).toEqual([]);
    }
  }, 30_000);
});
