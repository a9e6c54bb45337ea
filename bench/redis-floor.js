// What Redis itself charges for the operations a deduplication window can be made of, one id at a time:
// the floor under scenario 8's figure whatever the layout. Each case runs on a fresh redis-server of its
// own (AOF everysec, as in production, unless it says otherwise) against buckets of 20-byte records like
// the window's, in groups as ingest sends them; prints Redis CPU (INFO cpu) per id.
// `node bench/redis-floor.js [--ids 300000] [--group 1000] [--buckets 2048] [--fill 25] [--runs 2]`
import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import { redisCpuSeconds, startRedis } from './lib/redis.js';

const { values: args } = parseArgs({
  options: {
    ids: { type: 'string', default: '300000' },
    group: { type: 'string', default: '1000' },
    buckets: { type: 'string', default: '2048' },
    fill: { type: 'string', default: '25' },
    runs: { type: 'string', default: '2' },
  },
});
const IDS = Number(args.ids);
const GROUP = Number(args.group);
const BUCKETS = Number(args.buckets);
const FILL = Number(args.fill);
const RUNS = Number(args.runs);
const RECORD = 20;
const key = (bucket) => `kable:{s0}:seen:1234567:0:${bucket.toString(16)}`;

/** A script that runs `call` once per key, `r` being that key's record. */
const perId = (call) => `local v = ARGV[1] for i = 1, #KEYS do local r = string.sub(v, (i - 1) * ${RECORD} + 1, i * ${RECORD}) ${call} end`;

const CASES = [
  { name: 'script, no command (its keys and records parsed, the loop)', script: perId('') },
  { name: 'script, STRLEN per id (a read command from a script)', script: perId("redis.call('STRLEN', KEYS[i])") },
  { name: "script, APPEND per id (the window's write)", script: perId("redis.call('APPEND', KEYS[i], r)") },
  { name: 'script, APPEND per id, AOF off', script: perId("redis.call('APPEND', KEYS[i], r)"), aof: false },
  { name: 'APPEND per id, pipelined (no script)', pipeline: true },
  { name: "MGET, one key per id (the window's check)", mget: true },
];

async function run(kase) {
  const redis = await startRedis({ own: true });
  try {
    if (kase.aof === false) await redis.client.config('SET', 'appendonly', 'no');
    // Buckets as a generation holds them halfway: FILL records each, and a TTL.
    for (let from = 0; from < BUCKETS; from += 1000) {
      const pipeline = redis.client.pipeline();
      for (let b = from; b < Math.min(BUCKETS, from + 1000); b++) pipeline.set(key(b), randomBytes(FILL * RECORD), 'EX', 3600);
      await pipeline.exec();
    }
    const cpu = await redisCpuSeconds(redis.client);
    for (let done = 0; done < IDS; done += GROUP) {
      const keys = Array.from({ length: GROUP }, () => key(Math.floor(Math.random() * BUCKETS)));
      const records = randomBytes(GROUP * RECORD);
      if (kase.mget) await redis.client.mgetBuffer(...keys);
      else if (kase.pipeline) {
        const pipeline = redis.client.pipeline();
        keys.forEach((k, i) => pipeline.append(k, records.subarray(i * RECORD, (i + 1) * RECORD)));
        await pipeline.exec();
      } else await redis.client.eval(kase.script, keys.length, ...keys, records);
    }
    return (((await redisCpuSeconds(redis.client)) - cpu) * 1e6) / IDS;
  } finally {
    await redis.stop();
  }
}

console.log(`${IDS} ids in groups of ${GROUP}, ${BUCKETS} buckets of ${FILL} records; Redis CPU per id, ${RUNS} runs each`);
for (const kase of CASES) {
  const figures = [];
  for (let i = 0; i < RUNS; i++) figures.push(await run(kase));
  console.log(`  ${kase.name}: ${figures.map((us) => us.toFixed(2)).join(', ')} µs`);
}
