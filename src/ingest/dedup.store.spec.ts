import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import type { BacklogCounter } from '../delivery/backlog.counter.js';
import { loadConfig } from '../platform/config/config.js';
import { RedisKeys } from '../platform/redis/redis.module.js';
import { DedupStore, parseDedupValue } from './dedup.store.js';

const at = new Date('2026-11-29T16:30:00.123Z');

describe('dedup values', () => {
  it('reads back when, which job and where in it', () => {
    expect(parseDedupValue('1795969800123:4711/0')).toEqual({ receivedAt: at.getTime(), job: { shard: 0, id: '4711', index: 0 } });
    expect(parseDedupValue('1795969800123:4711/999')).toEqual({ receivedAt: at.getTime(), job: { shard: 0, id: '4711', index: 999 } });
  });

  it('keeps job ids with colons and slashes whole', () => {
    expect(parseDedupValue('1795969800123:custom:id-1/7')).toEqual({
      receivedAt: at.getTime(),
      job: { shard: 0, id: 'custom:id-1', index: 7 },
    });
    expect(parseDedupValue('1795969800123:a/b/7')).toEqual({ receivedAt: at.getTime(), job: { shard: 0, id: 'a/b', index: 7 } });
  });

  it('reads the shard of the job', () => {
    expect(parseDedupValue('1795969800123:11.4711/3')).toEqual({ receivedAt: at.getTime(), job: { shard: 11, id: '4711', index: 3 } });
  });

  it('reads an entry without a job, and nothing from what it never wrote', () => {
    expect(parseDedupValue('1795969800123:/0')).toEqual({ receivedAt: at.getTime() });
    expect(parseDedupValue('1')).toBeUndefined();
    expect(parseDedupValue('{"r":1795969800123}')).toBeUndefined();
  });
});

describe('DedupStore (Redis at 127.0.0.1:6379)', () => {
  const prefix = `t${randomBytes(4).toString('hex')}`;
  const config = loadConfig({
    KABLE_API_KEY: 'sk_test.abc',
    KABLE_CLIENT_ID: 'kci_1',
    SEGMENT_WRITE_KEYS: 'wk1',
    REDIS_PREFIX: prefix,
    DEDUP_WINDOW: '1h',
  });
  const keys = new RedisKeys(config);
  const backlogKey = keys.key('backlog', 'events');
  let redis: Redis;
  let store: DedupStore;

  beforeAll(() => {
    redis = new Redis('redis://127.0.0.1:6379');
    store = new DedupStore(redis, config, keys, { key: () => backlogKey } as unknown as BacklogCounter);
  });
  afterAll(async () => {
    const written = await redis.keys(`${prefix}:*`);
    if (written.length > 0) await redis.del(...written);
    redis.disconnect();
  });

  it('remembers each run’s ids with where they are in the job, for the window, and counts the backlog in the same command', async () => {
    expect(await store.seen(['a', 'b', 'c', 'd'])).toEqual([false, false, false, false]);
    await store.remember(
      { shard: 0, id: '42' },
      [
        { messageIds: ['a', 'b'], receivedAt: at, start: 0 },
        { messageIds: [], receivedAt: at, start: 2 },
        { messageIds: ['c'], receivedAt: new Date(at.getTime() + 5), start: 2 },
      ],
      3,
    );
    expect(await store.seen(['a', 'b', 'c', 'd'])).toEqual([true, true, true, false]);
    expect(await store.lookup('a')).toEqual({ receivedAt: at.getTime(), job: { shard: 0, id: '42', index: 0 } });
    expect(await store.lookup('b')).toEqual({ receivedAt: at.getTime(), job: { shard: 0, id: '42', index: 1 } });
    expect(await store.lookup('c')).toEqual({ receivedAt: at.getTime() + 5, job: { shard: 0, id: '42', index: 2 } });
    expect(await store.lookup('d')).toBeUndefined();
    const ttl = await redis.pttl(keys.shardKey(0, 'dedup', 'a'));
    expect(ttl).toBeGreaterThan(3_590_000);
    expect(ttl).toBeLessThanOrEqual(3_600_000);
    expect(await redis.get(backlogKey)).toBe('3');
  });

  it('writes nothing for a group with nothing new', async () => {
    const before = await redis.keys(`${prefix}:*`);
    await store.remember(undefined, [{ messageIds: [], receivedAt: at, start: 0 }], 0);
    expect(await store.seen([])).toEqual([]);
    expect(await redis.keys(`${prefix}:*`)).toEqual(before);
  });
});
