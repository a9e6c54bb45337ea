import { randomUUID } from 'node:crypto';
import { Redis, type RedisOptions } from 'ioredis';
import { RedisCluster, RedisSentinelSet, tlsClientOptions, TlsRedis } from './support/topologies.js';
import { waitFor } from './support/wait.js';

/**
 * Self-check of the test topologies (test/support/topologies.ts) that the cluster, Sentinel and TLS
 * tests of the service stand on: if one of these fails, so would theirs, for the wrong reason.
 */

/** What a PING gets: 'PONG', or the errors (ioredis reports a refused AUTH as an 'error' event, then fails the PING). */
async function pingOutcome(client: Redis): Promise<string> {
  const errors: string[] = [];
  client.on('error', (error: Error) => errors.push(error.message));
  try {
    if (client.status === 'wait') await client.connect();
    return await client.ping();
  } catch (error) {
    return [...errors, (error as Error).message].join(' / ');
  } finally {
    client.disconnect();
  }
}

/** A client that tries once and fails fast, so a refusal shows up as an outcome rather than retries. */
const ONCE: RedisOptions = {
  lazyConnect: true,
  maxRetriesPerRequest: 0,
  retryStrategy: () => null,
  connectTimeout: 2000,
  // Else a refused INFO (NOAUTH) shows only as "Connection is closed".
  enableReadyCheck: false,
  disconnectTimeout: 100, // else ioredis keeps a 2 s timer for a stream the server already closed
};

function infoField(info: string, field: string): string | undefined {
  return new RegExp(`^${field}:(.*)\\r$`, 'm').exec(info)?.[1];
}

describe('test topologies', () => {
  describe('Redis Cluster', () => {
    let cluster: RedisCluster | undefined;
    afterAll(async () => cluster?.destroy());

    it('3 masters cover all 16384 slots; a key survives a restart of its master (AOF); its slots fail while it is down', async () => {
      cluster = await RedisCluster.start({ masters: 3 });
      expect(cluster.nodes).toBe(cluster.ports.map((port) => `127.0.0.1:${port}`).join(','));
      for (let i = 0; i < 3; i += 1) {
        const info = await cluster.nodeClient(i).cluster('INFO');
        expect([infoField(info, 'cluster_state'), infoField(info, 'cluster_slots_assigned'), infoField(info, 'cluster_size')]).toEqual([
          'ok',
          '16384',
          '3',
        ]);
      }
      const slots = await cluster.nodeClient(0).cluster('SLOTS');
      const slotsByPort = new Map<number, number>();
      for (const [start, end, [, port]] of slots as unknown as Array<[number, number, [string, number]]>) {
        slotsByPort.set(port, (slotsByPort.get(port) ?? 0) + end - start + 1);
      }
      expect([...slotsByPort.keys()].sort()).toEqual([...cluster.ports].sort());
      expect([...slotsByPort.values()].reduce((a, b) => a + b)).toBe(16384);

      const client = await cluster.client();
      const key = `topologies:${randomUUID()}`;
      expect(await client.set(key, 'kept')).toBe('OK');
      const owner = await cluster.masterIndexFor(key);
      expect(await cluster.nodeClient(owner).get(key)).toBe('kept');

      await cluster.restartMaster(owner);
      expect(await cluster.nodeClient(owner).get(key)).toBe('kept'); // read back from its own AOF
      expect(await client.get(key)).toBe('kept');

      // Full coverage is required: with the owner down, the others report the cluster failed.
      const other = cluster.nodeClient((owner + 1) % 3);
      await cluster.killMaster(owner);
      await waitFor(
        () => other.cluster('INFO'),
        (info) => infoField(info, 'cluster_state') === 'fail',
        10_000,
      );
      await cluster.startMaster(owner);
      expect(await client.get(key)).toBe('kept');

      const cpu = await cluster.masterCpuSeconds();
      expect(cpu).toHaveLength(3);
      expect(cpu.every((seconds) => Number.isFinite(seconds) && seconds > 0)).toBe(true);
      expect(await cluster.deleteKeys('topologies:*')).toBe(1);
      expect(await client.exists(key)).toBe(0);
    }, 60_000);
  });

  describe('Redis Cluster over TLS', () => {
    let cluster: RedisCluster | undefined;
    afterAll(async () => cluster?.destroy());

    it('serves a TLS ioredis Cluster and refuses plain TCP', async () => {
      cluster = await RedisCluster.start({ masters: 3, tls: true });
      expect(cluster.nodes).toBe(cluster.ports.map((port) => `rediss://127.0.0.1:${port}`).join(','));
      const client = await cluster.client();
      const keys = ['a', 'b', 'c', 'd', 'e', 'f'].map((k) => `topologies:${k}:${randomUUID()}`);
      for (const key of keys) await client.set(key, key);
      expect(await Promise.all(keys.map((key) => client.get(key)))).toEqual(keys);
      expect(await pingOutcome(new Redis({ ...ONCE, host: '127.0.0.1', port: cluster.ports[0]! }))).toMatch(/Connection is closed\.$/);
    }, 30_000);
  });

  describe('Sentinel', () => {
    let set: RedisSentinelSet | undefined;
    afterAll(async () => set?.destroy());

    it('a killed primary is replaced within 15 s by a replica that has its data and accepts writes', async () => {
      set = await RedisSentinelSet.start();
      expect(set.name).toBe('kable-primary');
      expect(set.sentinelsEnv).toBe(set.sentinelPorts.map((port) => `127.0.0.1:${port}`).join(','));
      const oldPort = await set.primaryPort();
      expect(oldPort).toBe(set.serverPorts[0]);

      const client = set.client();
      const key = `topologies:${randomUUID()}`;
      await client.set(key, 'before');
      expect(await client.wait(2, 5000)).toBe(2); // both replicas have it

      expect(await set.killPrimary()).toBe(oldPort);
      const started = Date.now();
      const newPort = await set.waitForFailover(oldPort, 15_000);
      process.stdout.write(`[topologies] Sentinel failover took ${Date.now() - started} ms\n`);
      expect(set.serverPorts.slice(1)).toContain(newPort);
      expect(await set.primaryPort()).toBe(newPort);

      const primary = new Redis({ host: '127.0.0.1', port: newPort, ...ONCE });
      try {
        await primary.connect();
        expect(await primary.get(key)).toBe('before');
        expect(await primary.set(key, 'after')).toBe('OK');
      } finally {
        primary.disconnect();
      }
      // The Sentinel client finds the new primary by itself.
      await waitFor(
        () => client.get(key).catch((error: Error) => error.message),
        (value) => value === 'after',
        10_000,
      );
    }, 45_000);
  });

  describe('TLS Redis with ACL users', () => {
    let redis: TlsRedis | undefined;
    afterAll(async () => redis?.destroy());

    it('refuses plain TCP and a client without the password; answers PONG over TLS with the right user', async () => {
      redis = await TlsRedis.start({ users: [{ name: 'kable', password: 'pw "with" spaces\\' }] });
      expect(redis.url).toBe(`rediss://127.0.0.1:${redis.port}`);
      const tls = tlsClientOptions(redis.tls);
      const at = { host: '127.0.0.1', port: redis.port };

      // The server resets a connection that does not start with a TLS handshake.
      expect(await pingOutcome(new Redis({ ...ONCE, ...at }))).toMatch(/Connection is closed\.$/);
      expect(await pingOutcome(new Redis({ ...ONCE, ...at, tls }))).toBe('NOAUTH Authentication required.');
      expect(await pingOutcome(new Redis({ ...ONCE, ...at, tls, username: 'kable', password: 'wrong' }))).toMatch(/^WRONGPASS /);
      expect(await pingOutcome(new Redis({ ...ONCE, ...at, tls, username: 'kable', password: 'pw "with" spaces\\' }))).toBe('PONG');
      expect(await redis.client({ username: 'kable', password: 'pw "with" spaces\\' }).call('ACL', 'WHOAMI')).toBe('kable');
    }, 30_000);
  });
});
