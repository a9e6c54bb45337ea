// Redis for the benchmark: REDIS_URL if set, else a redis-server of its own (AOF everysec, as in
// production), and helpers to read its memory and to delete a run's keys.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { freePort } from './procs.js';

export async function startRedis() {
  if (process.env.REDIS_URL) {
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
  process.on('exit', () => child.kill()); // also when the benchmark fails
  child.on('error', (error) => {
    console.error(`could not start redis-server (${error.message}); install it or set REDIS_URL`);
    process.exit(1);
  });
  const url = `redis://127.0.0.1:${port}`;
  const client = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1, retryStrategy: () => 100 });
  client.on('error', () => undefined); // connection attempts while redis-server starts
  for (let i = 0; ; i++) {
    try {
      await client.connect();
      await client.ping();
      break;
    } catch (error) {
      if (i > 50) throw error;
      client.disconnect();
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
  return {
    url,
    client,
    own: true,
    pid: child.pid,
    async stop() {
      await client.shutdown('NOSAVE').catch(() => undefined);
      client.disconnect();
      await new Promise((resolve) => (child.exitCode !== null ? resolve(null) : child.once('exit', resolve)));
      rmSync(dir, { recursive: true, force: true });
    },
  };
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

/** Number of jobs BullMQ still has to deliver: waiting, active, prioritized or delayed (retries). */
export async function queueDepth(client, prefix, queue = 'kable-delivery') {
  const [wait, active, prioritized, delayed] = await Promise.all([
    client.llen(`${prefix}:${queue}:wait`),
    client.llen(`${prefix}:${queue}:active`),
    client.zcard(`${prefix}:${queue}:prioritized`),
    client.zcard(`${prefix}:${queue}:delayed`),
  ]);
  return wait + active + prioritized + delayed;
}
