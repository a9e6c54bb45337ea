import { jest } from '@jest/globals';
import { randomBytes } from 'node:crypto';
import calculateSlot from 'cluster-key-slot';
import { Redis } from 'ioredis';
import type { BacklogCounter } from '../delivery/backlog.counter.js';
import { loadConfig } from '../platform/config/config.js';
import { RedisKeys } from '../platform/redis/redis.module.js';
import {
  bucketName,
  bucketsFor,
  DEFAULT_BUCKETS,
  EPOCH_FULL,
  EPOCH_GROWTH,
  generationExpiresAt,
  generationMs,
  generationOf,
  messageHash,
  MIN_BUCKETS,
  packRecords,
  RECORD_BYTES,
  TARGET_FILL,
} from './dedup-layout.js';
import { DedupStore } from './dedup.store.js';

const HOUR = 3_600_000;
const WINDOW = HOUR;
const GEN = generationMs(WINDOW);
/** A minute into a generation still to come (keys expire relative to the real clock). */
const NOW = (Math.floor(Date.now() / GEN) + 1) * GEN + 60_000;

describe('DedupStore (Redis at 127.0.0.1:6379)', () => {
  const prefix = `t${randomBytes(4).toString('hex')}`;
  let redis: Redis;

  function store(shards = 1): { store: DedupStore; keys: RedisKeys } {
    const config = loadConfig({
      KABLE_API_KEY: 'sk_test.abc',
      KABLE_CLIENT_ID: 'kci_1',
      SEGMENT_WRITE_KEYS: 'wk1',
      REDIS_PREFIX: `${prefix}s${shards}`,
      REDIS_SHARDS: String(shards),
      DEDUP_WINDOW: '1h',
    });
    const keys = new RedisKeys(config);
    const backlog = { key: (shard: number) => keys.shardKey(shard, 'backlog', 'events') } as unknown as BacklogCounter;
    return { store: new DedupStore(redis, config, keys, backlog), keys };
  }

  /** The bucket key of an id in generation `g`, given the generation's bucket count. */
  const bucketKey = (keys: RedisKeys, id: string, g: number, buckets: number) =>
    keys.shardKey(keys.shardOf(id), 'seen', String(g), '0', bucketName(messageHash(id), buckets));

  beforeAll(() => {
    redis = new Redis('redis://127.0.0.1:6379');
  });
  afterAll(async () => {
    const written = await redis.keys(`${prefix}*`);
    if (written.length > 0) await redis.del(...written);
    redis.disconnect();
  });

  it('remembers each run’s ids with where they are in the job, and counts the backlog in the same command', async () => {
    const { store: s, keys } = store();
    const check = await s.check(['a', 'b', 'c', 'd'], NOW);
    expect(check.seen).toEqual([false, false, false, false]);
    await s.remember(
      check,
      { shard: 0, id: '42' },
      [
        { messageIds: ['a', 'b'], start: 0 },
        { messageIds: [], start: 2 },
        { messageIds: ['c'], start: 2 },
      ],
      3,
    );
    expect((await s.check(['a', 'b', 'c', 'd'], NOW)).seen).toEqual([true, true, true, false]);
    const expiresAt = generationExpiresAt(generationOf(NOW, WINDOW), WINDOW);
    expect(await s.lookup('a', NOW)).toEqual({ job: { shard: 0, id: '42', index: 0 }, expiresAt });
    expect(await s.lookup('b', NOW)).toEqual({ job: { shard: 0, id: '42', index: 1 }, expiresAt });
    expect(await s.lookup('c', NOW)).toEqual({ job: { shard: 0, id: '42', index: 2 }, expiresAt });
    expect(await s.lookup('d', NOW)).toBeUndefined();
    expect(await redis.get(keys.key('backlog', 'events'))).toBe('3');

    // The first generation of a shard has the default bucket count; every key of it expires with it.
    const g = generationOf(NOW, WINDOW);
    const meta = keys.shardKey(0, 'seen', String(g));
    expect(await redis.hgetall(meta)).toEqual({ b0: String(DEFAULT_BUCKETS), s: String(NOW), n0: '3' });
    const bucket = bucketKey(keys, 'a', g, DEFAULT_BUCKETS);
    for (const key of [meta, bucket]) expect(await redis.pexpiretime(key)).toBe(generationExpiresAt(g, WINDOW));
    // The bucket is the id's 20-byte record (alone there unless b or c share it).
    const a = packRecords([messageHash('a')], { shard: 0, id: '42' }, [0]);
    expect((await redis.getBuffer(bucket))?.subarray(0, RECORD_BYTES)).toEqual(a);
  });

  it('sees an id for as long as a generation that holds it lives, and forgets it after', async () => {
    const { store: s } = store();
    await s.remember(await s.check(['old'], NOW), { shard: 0, id: '7' }, [{ messageIds: ['old'], start: 0 }]);
    // Two generations later (at least one whole window) it is still seen, from either side of the commit.
    expect((await s.check(['old'], NOW + 2 * GEN)).seen).toEqual([true]);
    expect(await s.lookup('old', NOW + 2 * GEN)).toEqual({
      job: { shard: 0, id: '7', index: 0 },
      expiresAt: generationExpiresAt(generationOf(NOW, WINDOW), WINDOW),
    });
    // Three generations later that generation is no longer read (its keys are gone by then).
    expect((await s.check(['old'], NOW + 3 * GEN)).seen).toEqual([false]);
    expect(await s.lookup('old', NOW + 3 * GEN)).toBeUndefined();
  });

  it('reads a bucket that several ids of a check share once, and answers each id from it', async () => {
    const { store: s, keys } = store();
    const g = generationOf(NOW, WINDOW);
    // Ids whose records all go to one bucket, and one elsewhere.
    const target = bucketName(messageHash('shared-0'), DEFAULT_BUCKETS);
    const shared = ['shared-0'];
    for (let i = 1; shared.length < 4; i++) {
      if (bucketName(messageHash(`shared-${i}`), DEFAULT_BUCKETS) === target) shared.push(`shared-${i}`);
    }
    const [a = '', b = '', c = '', d = ''] = shared;
    await s.remember(await s.check([a, c], NOW), { shard: 0, id: '5' }, [{ messageIds: [a, c], start: 0 }]);
    const mget = jest.spyOn(redis, 'mgetBuffer');
    try {
      expect((await s.check([a, b, 'elsewhere', c, d], NOW)).seen).toEqual([true, false, false, true, false]);
      const asked = mget.mock.calls.flat(2).map(String);
      expect(asked.filter((key) => key === bucketKey(keys, a, g, DEFAULT_BUCKETS))).toHaveLength(1);
      expect(asked).toHaveLength(2);
    } finally {
      mget.mockRestore();
    }
  });

  it('marks nothing as seen when it only checks', async () => {
    const { store: s } = store();
    expect((await s.check(['only-checked'], NOW)).seen).toEqual([false]);
    expect((await s.check(['only-checked'], NOW)).seen).toEqual([false]);
    expect(await s.lookup('only-checked', NOW)).toBeUndefined();
  });

  it('sizes a new generation from what the previous one took since its first write, and keeps the count it was given first', async () => {
    const { store: s, keys } = store(2);
    const at = NOW + 10 * GEN; // a minute into its generation
    const g = generationOf(at, WINDOW);
    const ids = Array.from({ length: 300 }, (_, i) => `sized-${i}`);
    await s.remember(await s.check(ids, at), { shard: 1, id: '9' }, [{ messageIds: ids, start: 0 }]);
    const meta = (shard: number, gen: number) => keys.shardKey(shard, 'seen', String(gen));
    const taken = await Promise.all([0, 1].map(async (shard) => Number(await redis.hget(meta(shard, g), 'n0'))));
    expect(taken[0]! + taken[1]!).toBe(300);
    expect(await redis.hget(meta(0, g), 's')).toBe(String(at));

    const next = await s.check(['next-0', 'next-1', 'next-2', 'next-3'], at + GEN);
    for (const shard of [0, 1]) {
      expect(next.epochs.get(shard)).toEqual({ epoch: 0, buckets: bucketsFor(taken[shard]!, (g + 1) * GEN - at, WINDOW) });
    }
    await s.remember(next, { shard: 0, id: '10' }, [{ messageIds: ['next-0', 'next-1'], start: 0 }]);
    const shard = keys.shardOf('next-0');
    expect(Number(await redis.hget(meta(shard, g + 1), 'b0'))).toBe(next.epochs.get(shard)?.buckets);
    // A writer that checked before the generation was written, and sized it otherwise, keeps the
    // generation's count and writes where readers look.
    await s.remember({ ...next, epochs: new Map([[shard, { epoch: 0, buckets: 5 }]]) }, { shard: 0, id: '11' }, [
      { messageIds: ['next-2', 'next-3'], start: 0 },
    ]);
    expect(Number(await redis.hget(meta(shard, g + 1), 'b0'))).toBe(next.epochs.get(shard)?.buckets);
    expect((await s.check(['next-0', 'next-1', 'next-2', 'next-3'], at + GEN)).seen).toEqual([true, true, true, true]);
    expect(Number(await redis.hget(meta(shard, g + 1), 'n0')) + Number(await redis.hget(meta(1 - shard, g + 1), 'n0'))).toBe(4);
  });

  it('starts a new epoch of more buckets when a generation’s buckets fill, and reads every epoch', async () => {
    const { store: s, keys } = store();
    const at = NOW + 40 * GEN;
    const g = generationOf(at, WINDOW);
    const meta = keys.shardKey(0, 'seen', String(g));
    // A first write that sizes the generation at the fewest buckets: it is full after EPOCH_FULL ids a bucket.
    const first = Array.from({ length: MIN_BUCKETS * EPOCH_FULL + 1 }, (_, i) => `epoch0-${i}`);
    const check = await s.check(first, at);
    await s.remember({ ...check, epochs: new Map([[0, { epoch: 0, buckets: MIN_BUCKETS }]]) }, { shard: 0, id: '20' }, [
      { messageIds: first, start: 0 },
    ]);
    expect(await redis.hgetall(meta)).toEqual({
      b0: String(MIN_BUCKETS),
      n0: String(first.length),
      e: '1',
      b1: String(MIN_BUCKETS * EPOCH_GROWTH),
      s: String(at),
    });
    // The next ids go to epoch 1; a writer still naming epoch 0 is sent there too.
    const later = await s.check(['epoch1-a', 'epoch1-b'], at);
    expect(later.epochs.get(0)).toEqual({ epoch: 1, buckets: MIN_BUCKETS * EPOCH_GROWTH });
    await s.remember(later, { shard: 0, id: '21' }, [{ messageIds: ['epoch1-a'], start: 0 }]);
    await s.remember(check, { shard: 0, id: '22' }, [{ messageIds: ['epoch1-b'], start: 0 }]);
    expect(await redis.hget(meta, 'n1')).toBe('2');
    expect(
      await redis.exists(keys.shardKey(0, 'seen', String(g), '1', bucketName(messageHash('epoch1-b'), MIN_BUCKETS * EPOCH_GROWTH))),
    ).toBe(1);
    // Both epochs are read: every id is seen, and found where it went.
    const all = [...first, 'epoch1-a', 'epoch1-b'];
    expect((await s.check(all, at)).seen.every(Boolean)).toBe(true);
    expect(await s.lookup('epoch0-7', at)).toEqual({ job: { shard: 0, id: '20', index: 7 }, expiresAt: generationExpiresAt(g, WINDOW) });
    expect(await s.lookup('epoch1-b', at)).toEqual({ job: { shard: 0, id: '22', index: 0 }, expiresAt: generationExpiresAt(g, WINDOW) });
    // A bucket of epoch 0 stays near EPOCH_FULL records (it is read whole by every check of its ids).
    const sizes = await Promise.all(
      Array.from({ length: MIN_BUCKETS }, (_, b) => redis.strlen(keys.shardKey(0, 'seen', String(g), '0', b.toString(16)))),
    );
    expect(Math.max(...sizes) / RECORD_BYTES).toBeLessThan(EPOCH_FULL * 1.5);
  });

  it('keeps a full bucket in about 30 bytes an id', async () => {
    const { store: s, keys } = store();
    const at = NOW + 20 * GEN;
    const g = generationOf(at, WINDOW);
    // Ids until one bucket of the generation holds TARGET_FILL of them.
    const target = bucketName(messageHash('fill-0'), DEFAULT_BUCKETS);
    const ids: string[] = [];
    for (let i = 0; ids.length < TARGET_FILL; i++) {
      if (bucketName(messageHash(`fill-${i}`), DEFAULT_BUCKETS) === target) ids.push(`fill-${i}`);
    }
    await s.remember(await s.check(ids, at), { shard: 0, id: '12' }, [{ messageIds: ids, start: 0 }]);
    const key = keys.shardKey(0, 'seen', String(g), '0', target);
    expect(await redis.strlen(key)).toBe(TARGET_FILL * RECORD_BYTES);
    // 20 bytes a record, the string's room to grow and the key's own overhead.
    expect(Number(await redis.memory('USAGE', key)) / TARGET_FILL).toBeLessThan(36);
    expect((await s.check(ids, at)).seen.every(Boolean)).toBe(true);
  });

  it('keeps every id in its shard’s slot, each script touching one slot', async () => {
    const { store: s, keys } = store(3);
    const at = NOW + 30 * GEN;
    const ids = Array.from({ length: 60 }, (_, i) => `sharded-${i}`);
    await s.remember(await s.check(ids, at), { shard: 2, id: '13' }, [{ messageIds: ids, start: 0 }], 60);
    const written = await redis.keys(`${prefix}s3:*`);
    const slots = new Map<number, Set<number>>();
    for (const key of written) {
      const shard = [0, 1, 2].find((n) => key.startsWith(keys.bullPrefix(n)));
      expect(shard).toBeDefined();
      slots.set(shard ?? -1, (slots.get(shard ?? -1) ?? new Set()).add(calculateSlot(key)));
    }
    expect([...slots.keys()].sort()).toEqual([0, 1, 2]);
    for (const set of slots.values()) expect(set.size).toBe(1);
    expect((await s.check(ids, at)).seen.every(Boolean)).toBe(true);
    expect(await redis.get(keys.shardKey(2, 'backlog', 'events'))).toBe('60');
  });

  it('writes nothing for a group with nothing new', async () => {
    const { store: s } = store(4);
    await s.remember(await s.check([], NOW), undefined, [{ messageIds: [], start: 0 }], 0);
    expect(await redis.keys(`${prefix}s4:*`)).toEqual([]);
  });
});
