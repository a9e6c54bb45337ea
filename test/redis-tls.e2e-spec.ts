import request from 'supertest';
import { basicAuth, type Harness, startHarness, track, waitForDrained } from './support/harness.js';
import { RedisCluster, RedisSentinelSet, TlsRedis } from './support/topologies.js';
import { waitFor } from './support/wait.js';

const USER = 'kable-svc';
const PASSWORD = 'tls-Pa55word "quoted" \\ end';
const WRONG_PASSWORD = 'not-the-Pa55word-7f3a9c';

const UNAVAILABLE = {
  statusCode: 503,
  error: 'Service Unavailable',
  message: 'the messages could not be stored (Redis is unavailable); nothing was accepted, retry later',
};

/**
 * The service against Redis servers that speak only TLS, with certificates from a CA the test
 * makes: one Redis with an ACL user (REDIS_URL=rediss://…, REDIS_USERNAME, REDIS_PASSWORD), a
 * Redis Cluster (rediss:// seed nodes) and a primary found through Sentinel (rediss:// Sentinels),
 * each trusting the CA through REDIS_TLS_CA.
 */
describe('Redis over TLS', () => {
  let h: Harness | undefined;
  const lines: string[] = [];
  // nestjs-pino keeps the first harness's stream for the whole file: every harness gets this one.
  const logStream = { write: (line: string) => void lines.push(line) };
  const boot = (env: Record<string, string>) => startHarness({ LOG_LEVEL: 'info', ...env }, { logStream });

  afterEach(async () => {
    await h?.close();
    h = undefined;
    lines.length = 0;
  }, 30_000);

  /** A batch is queued, a second send of it is deduplicated, and Kable gets each event once. */
  async function acceptsDeliversDeduplicates(service: Harness): Promise<void> {
    const batch = Array.from({ length: 20 }, () => track());
    const send = () => request(service.url).post('/v1/batch').set('authorization', basicAuth()).send({ batch });
    const first = await send();
    expect(first.status).toBe(200);
    expect(first.body).toMatchObject({ success: true, accepted: 20, queued: 20, deduplicated: 0 });
    const again = await send();
    expect(again.status).toBe(200);
    expect(again.body).toMatchObject({ success: true, accepted: 20, queued: 0, deduplicated: 20 });
    await service.kable.waitForEvents(20, 10_000);
    await waitForDrained(service);
    expect(service.kable.events.map((e) => e.transactionId).sort()).toEqual(batch.map((m) => m.messageId as string).sort());
    expect([...service.kable.arrivals.values()]).toEqual(Array(20).fill(1));
    const ready = await request(service.url).get('/health/ready');
    expect(ready.status).toBe(200);
    expect(ready.body.details.redis).toMatchObject({ status: 'up' });
  }

  /** Not ready, and ingest refuses: what a service that cannot reach Redis must answer. */
  async function refusesWithoutRedis(service: Harness): Promise<string[]> {
    const ready = await request(service.url).get('/health/ready');
    expect(ready.status).toBe(503);
    expect(ready.body.details.redis).toMatchObject({ status: 'down' });
    const ingest = await request(service.url)
      .post('/v1/batch')
      .set('authorization', basicAuth())
      .send({ batch: [track()] });
    expect(ingest.status).toBe(503);
    expect(ingest.body).toEqual(UNAVAILABLE);
    return [JSON.stringify(ready.body), JSON.stringify(ingest.body)];
  }

  /** The `msg` of every log line. */
  const messages = () => lines.map((line) => (JSON.parse(line) as { msg: string }).msg);

  describe('one Redis with an ACL user', () => {
    let redis: TlsRedis | undefined;
    beforeAll(async () => {
      redis = await TlsRedis.start({ users: [{ name: USER, password: PASSWORD }] });
    }, 30_000);
    afterAll(async () => redis?.destroy());
    const env = () => ({ REDIS_URL: redis!.url, REDIS_TLS_CA: redis!.tls.caCert, REDIS_USERNAME: USER, REDIS_PASSWORD: PASSWORD });
    // The api role: with workers the app neither finishes booting while Redis refuses (the audience
    // sync's schedule waits for Redis in onModuleInit) nor closes (BullMQ's close waits for Redis too).
    const API = { SERVICE_ROLE: 'api' };

    it('rediss:// with REDIS_TLS_CA, REDIS_USERNAME and REDIS_PASSWORD: accepts, delivers, deduplicates', async () => {
      h = await boot(env());
      await acceptsDeliversDeduplicates(h);
      expect(messages()).toContain('using one Redis (REDIS_URL), TLS');
      expect(await redis!.client({ username: USER, password: PASSWORD }).call('ACL', 'WHOAMI')).toBe(USER);
      expect(lines.join('')).not.toContain(PASSWORD);
    }, 30_000);

    it('a wrong password: the service starts but is not ready, ingest answers 503, and no log line or answer holds the password', async () => {
      h = await boot({ ...env(), ...API, REDIS_PASSWORD: WRONG_PASSWORD });
      const answers = await refusesWithoutRedis(h);
      // The log says why (Redis's own refusal).
      await waitFor(messages, (msgs) => msgs.some((msg) => msg.startsWith('Redis connection error: WRONGPASS')), 5000);
      for (const text of [lines.join(''), ...answers]) {
        expect(text).not.toContain(WRONG_PASSWORD);
        expect(text).not.toContain(PASSWORD);
      }
    }, 30_000);

    it('without REDIS_TLS_CA the test CA is not trusted: not ready, ingest answers 503', async () => {
      const { REDIS_TLS_CA: _ca, ...withoutCa } = env();
      h = await boot({ ...withoutCa, ...API });
      await refusesWithoutRedis(h);
      // Node's TLS says why: the server's chain ends in a CA it was not given.
      await waitFor(messages, (msgs) => msgs.includes('Redis connection error: self-signed certificate in certificate chain'), 5000);
      expect(lines.join('')).not.toContain(PASSWORD);
    }, 30_000);
  });

  describe('Redis Cluster', () => {
    let cluster: RedisCluster | undefined;
    beforeAll(async () => {
      cluster = await RedisCluster.start({ masters: 3, tls: true });
    }, 60_000);
    afterAll(async () => cluster?.destroy());

    it('rediss:// seed nodes in REDIS_CLUSTER_NODES with REDIS_TLS_CA: accepts, delivers, deduplicates', async () => {
      h = await boot({ REDIS_CLUSTER_NODES: cluster!.nodes, REDIS_TLS_CA: cluster!.tls!.caCert });
      await acceptsDeliversDeduplicates(h);
      expect(messages()).toContain('using Redis Cluster through 3 seed node(s), TLS, 12 shard(s)');
    }, 30_000);
  });

  describe('Sentinel', () => {
    let set: RedisSentinelSet | undefined;
    beforeAll(async () => {
      set = await RedisSentinelSet.start({ replicas: 1, sentinels: 3, tls: true });
    }, 60_000);
    afterAll(async () => set?.destroy());

    it('rediss:// Sentinels in REDIS_SENTINELS with REDIS_TLS_CA: accepts, delivers, deduplicates', async () => {
      h = await boot({ REDIS_SENTINELS: set!.sentinelsEnv, REDIS_SENTINEL_NAME: set!.name, REDIS_TLS_CA: set!.tls!.caCert });
      await acceptsDeliversDeduplicates(h);
      expect(messages()).toContain(`using Redis primary "${set!.name}" through 3 Sentinel(s), TLS`);
    }, 30_000);
  });
});
