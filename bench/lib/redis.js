// Redis for the benchmark: REDIS_URL if set, else a redis-server of its own (AOF everysec, as in
// production), and helpers to read its memory and to delete a run's keys.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { freePort } from './procs.js';

/** `own`: always a fresh redis-server of its own, even when REDIS_URL is set (figures nothing else touches). */
export async function startRedis({ own = false } = {}) {
  if (process.env.REDIS_URL && !own) {
    const redis = new Redis(process.env.REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1 });
    await redis.connect();
    return { url: process.env.REDIS_URL, client: redis, own: false, stop: async () => redis.quit() };
  }
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'bench-redis-'));
  const child = spawn(
    'redis-server',
    [
      '--port',
      String(port),
      '--bind',
      '127.0.0.1',
      '--save',
      '',
      '--appendonly',
      'yes',
      '--appendfsync',
      'everysec',
      '--maxmemory-policy',
      'noeviction',
      '--dir',
      dir,
    ],
    { stdio: 'ignore' },
  );
  const kill = () => child.kill();
  process.on('exit', kill); // also when the benchmark fails
  child.on('error', (error) => {
    console.error(`could not start redis-server (${error.message}); install it or set REDIS_URL`);
    process.exit(1);
  });
  const url = `redis://127.0.0.1:${port}`;
  await waitForRedis(url);
  const client = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1, retryStrategy: () => 100 });
  client.on('error', () => undefined); // reconnect attempts once the bench has stopped this redis-server
  await client.connect();
  return {
    url,
    client,
    own: true,
    pid: child.pid,
    async stop() {
      await client.shutdown('NOSAVE').catch(() => undefined);
      client.disconnect();
      await new Promise((resolve) => (child.exitCode !== null ? resolve(null) : child.once('exit', resolve)));
      process.off('exit', kill);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Resolves once a Redis answers PING at `url`; throws after `timeoutMs`. */
export async function waitForRedis(url, timeoutMs = 10_000) {
  const probe = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  probe.on('error', () => undefined); // not up yet: retried below
  const deadline = Date.now() + timeoutMs;
  try {
    for (;;) {
      try {
        await probe.connect();
        await probe.ping();
        return;
      } catch {
        probe.disconnect();
        if (Date.now() > deadline) throw new Error(`no Redis answered at ${url} within ${timeoutMs} ms`);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    }
  } finally {
    probe.disconnect();
  }
}

export async function version(client) {
  const info = await client.info('server');
  return /redis_version:(\S+)/.exec(info)?.[1] ?? 'unknown';
}

export async function usedMemory(client) {
  const info = await client.info('memory');
  return Number(/used_memory:(\d+)/.exec(info)?.[1]);
}

/** Deletes every key under `prefix:`. */
export async function deleteKeys(client, prefix) {
  let cursor = '0';
  let deleted = 0;
  do {
    const [next, keys] = await client.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 5000);
    cursor = next;
    if (keys.length > 0) deleted += await client.unlink(...keys);
  } while (cursor !== '0');
  return deleted;
}

/** Redis's own CPU time so far (INFO cpu: used_cpu_sys + used_cpu_user), in seconds: every thread of the server. */
export async function redisCpuSeconds(client) {
  const info = await client.info('cpu');
  const field = (name) => Number(new RegExp(`^${name}:([\\d.]+)`, 'm').exec(info)?.[1] ?? NaN);
  return field('used_cpu_sys') + field('used_cpu_user');
}

/** INFO commandstats as [{ command, calls, usec }], most time first (scripts' inner commands are counted twice: alone and in the script's time). */
export async function commandStats(client) {
  const info = await client.info('commandstats');
  const out = [];
  for (const match of info.matchAll(/^cmdstat_([^:]+):calls=(\d+),usec=(\d+)/gm)) {
    out.push({ command: match[1] ?? '', calls: Number(match[2]), usec: Number(match[3]) });
  }
  return out.sort((a, b) => b.usec - a.usec);
}

/** queuePrefixes already found, by `<prefix> <queue>`: a SCAN of a large keyspace would cost Redis CPU on every poll. */
const knownPrefixes = new Map();

/**
 * The BullMQ prefixes of a queue under `prefix`: the service's keys carry a hash tag per shard
 * (`<prefix>:{<tag>}:<queue>:…`), the baseline's none. Found by SCAN once the queue has jobs.
 */
export async function queuePrefixes(client, prefix, queue = 'kable-delivery') {
  const known = knownPrefixes.get(`${prefix} ${queue}`);
  if (known) return known;
  const found = new Set();
  let cursor = '0';
  do {
    const [next, keys] = await client.scan(cursor, 'MATCH', `${prefix}*:${queue}:id`, 'COUNT', 5000);
    cursor = next;
    for (const key of keys) {
      const at = key.slice(0, -`:${queue}:id`.length);
      if (at === prefix || /^:\{[^}]*\}$/.test(at.slice(prefix.length))) found.add(at);
    }
  } while (cursor !== '0');
  if (found.size > 0) knownPrefixes.set(`${prefix} ${queue}`, [...found]);
  return [...found];
}

/** Number of jobs BullMQ still has to deliver, over every shard: waiting, active, prioritized or delayed (retries). */
export async function queueDepth(client, prefix, queue = 'kable-delivery') {
  const depths = await Promise.all(
    (await queuePrefixes(client, prefix, queue)).map(async (at) => {
      const [wait, active, prioritized, delayed] = await Promise.all([
        client.llen(`${at}:${queue}:wait`),
        client.llen(`${at}:${queue}:active`),
        client.zcard(`${at}:${queue}:prioritized`),
        client.zcard(`${at}:${queue}:delayed`),
      ]);
      return wait + active + prioritized + delayed;
    }),
  );
  return depths.reduce((a, b) => a + b, 0);
}
