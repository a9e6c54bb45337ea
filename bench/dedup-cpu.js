// Redis cost of the deduplication window alone, with the window empty and with older generations full:
// what scenario 8 cannot show, since its Redis is fresh. DedupStore from a build checks and remembers
// new ids in groups, as ingest does, on a redis-server of its own (AOF everysec); prints Redis CPU
// (INFO cpu), the calling process's CPU and Redis memory per id. BENCH_DIST points at another build, so
// two commits can be compared on the same machine in the same hour.
// `[BENCH_DIST=dir] node bench/dedup-cpu.js [--ids 100000] [--group 1000] [--older 0,1,2]`
import { parseArgs } from 'node:util';
import { importFromDist as load } from './lib/procs.js';
import { redisCpuSeconds, startRedis, usedMemory } from './lib/redis.js';

const { values: args } = parseArgs({
  options: {
    ids: { type: 'string', default: '100000' },
    group: { type: 'string', default: '1000' },
    older: { type: 'string', default: '0,1,2' },
  },
});
const { loadConfig } = await load('platform/config/config.js');
const { RedisKeys } = await load('platform/redis/keys.js');
const { DedupStore } = await load('ingest/dedup.store.js');
const { generationMs } = await load('ingest/dedup-layout.js');

const IDS = Number(args.ids);
const GROUP = Number(args.group);
const WINDOW = '1h';
let sequence = 0;
/** Ids shaped like analytics-node's. */
const newIds = (n) =>
  Array.from({ length: n }, () => `node-next-${Date.now()}-${(sequence++).toString(16).padStart(8, '0')}-4c1e-9a7b-5d2f0e6b8c31`);

/** Checks then remembers `count` new ids at time `now`, in groups, as ingest does (job ids count up). */
async function write(store, count, now) {
  for (let done = 0; done < count; done += GROUP) {
    const ids = newIds(Math.min(GROUP, count - done));
    const check = await store.check(ids, now);
    if (check.seen.some(Boolean)) throw new Error('a new id was seen');
    await store.remember(check, { shard: 0, id: String(1 + done / GROUP) }, [{ messageIds: ids, start: 0 }], ids.length);
  }
}

for (const older of args.older.split(',').map(Number)) {
  const redis = await startRedis({ own: true });
  const config = loadConfig({
    KABLE_API_KEY: 'sk_bench.x',
    KABLE_CLIENT_ID: 'kci_bench',
    SEGMENT_WRITE_KEYS: 'wk_bench',
    REDIS_PREFIX: 'benchdedup',
    DEDUP_WINDOW: WINDOW,
  });
  const keys = new RedisKeys(config);
  const backlog = { key: (shard) => keys.shardKey(shard, 'backlog', 'events') };
  const store = new DedupStore(redis.client, config, keys, backlog);
  const gen = generationMs(config.dedupWindowMs);
  const now = Date.now();
  // Older generations full (as many ids as the one measured), each a generation earlier.
  for (let g = older; g >= 1; g--) await write(store, IDS, now - g * gen);
  const memory = await usedMemory(redis.client);
  const redisCpu = await redisCpuSeconds(redis.client);
  const cpu = process.cpuUsage();
  await write(store, IDS, now);
  const used = process.cpuUsage(cpu);
  const redisUs = (((await redisCpuSeconds(redis.client)) - redisCpu) * 1e6) / IDS;
  const bytes = ((await usedMemory(redis.client)) - memory) / IDS;
  console.log(
    `${older} older generation(s) full: Redis ${redisUs.toFixed(2)} µs/id, this process ${((used.user + used.system) / IDS).toFixed(2)} µs/id, Redis memory ${bytes.toFixed(1)} B/id`,
  );
  await redis.stop();
}
