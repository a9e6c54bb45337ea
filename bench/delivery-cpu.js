// CPU cost of delivery alone: a backlog is queued through an API-only service (Kable untouched),
// then a worker-only service drains it to the fake Kable; the worker process's CPU time is divided
// by the events. Used for before/after figures of delivery changes, like ingest-cpu.js for ingest.
// `node bench/delivery-cpu.js [--events 100000] [--per-request 100] [--repeat 3] [--profile dir]`
import { parseArgs } from 'node:util';
import { cpuSecondsOf, startKable, startService } from './lib/procs.js';
import { deleteKeys, startRedis } from './lib/redis.js';
import { measureDrain, prefill } from './lib/steps.js';

const { values: args } = parseArgs({
  options: {
    events: { type: 'string', default: '100000' },
    'per-request': { type: 'string', default: '100' },
    repeat: { type: 'string', default: '3' },
    profile: { type: 'string' },
    // Extra service settings, e.g. --env EVENT_TRACE_WINDOW=0 (repeatable), for A/B runs.
    env: { type: 'string', multiple: true, default: [] },
  },
});
const extraEnv = Object.fromEntries(args.env.map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]));
const redis = await startRedis();
const kable = await startKable();
const ctx = { redis, kable };
const costs = [];
for (let i = 0; i < Number(args.repeat); i++) {
  const prefix = `benchdel${Math.random().toString(36).slice(2, 8)}`;
  const { accepted } = await prefill(ctx, prefix, Number(args.events), Number(args['per-request']));
  await kable.reset();
  const worker = await startService({
    role: 'worker',
    redisUrl: redis.url,
    prefix,
    kableUrl: kable.url,
    profileDir: args.profile,
    name: 'delivery',
    env: extraEnv,
  });
  const before = cpuSecondsOf(worker.pid);
  const redisBefore = redis.pid ? cpuSecondsOf(redis.pid) : 0;
  const drain = await measureDrain(ctx, accepted, 120_000);
  const cpu = cpuSecondsOf(worker.pid) - before;
  const redisCpu = redis.pid ? cpuSecondsOf(redis.pid) - redisBefore : NaN;
  await worker.stop();
  await deleteKeys(redis.client, prefix);
  const cost = (cpu * 1e6) / accepted;
  costs.push(cost);
  console.log(
    `run ${i + 1}: ${accepted} events, ${drain.done ? 'all delivered' : 'NOT all delivered'}, ${cpu.toFixed(2)} CPU-s, ${cost.toFixed(1)} µs CPU per event (Redis ${((redisCpu * 1e6) / accepted).toFixed(1)} µs), ${Math.round(drain.eventsPerSec)} events/s`,
  );
}
costs.sort((a, b) => a - b);
console.log(`median: ${costs[Math.floor(costs.length / 2)]?.toFixed(1)} µs of worker CPU per event (${args['per-request']} per request)`);
await kable.stop();
await redis.stop();
