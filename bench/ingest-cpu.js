// CPU cost of ingest alone: an API-only service (no worker) takes a fixed number of requests and
// the CPU time its process used is divided by the events. Steadier than events/s on a shared
// machine; used for the before/after figures of performance changes.
// `node bench/ingest-cpu.js [--kind batch|track] [--requests 3000] [--repeat 3] [--profile dir]`
import { parseArgs } from 'node:util';
import { bodyFactory, runLoad } from './lib/load.js';
import { cpuSecondsOf, startKable, startService } from './lib/procs.js';
import { deleteKeys, startRedis } from './lib/redis.js';

const { values: args } = parseArgs({
  options: {
    kind: { type: 'string', default: 'batch' },
    requests: { type: 'string', default: '3000' },
    repeat: { type: 'string', default: '3' },
    profile: { type: 'string' },
    // Extra service settings, e.g. --env EVENT_TRACE_WINDOW=0 (repeatable), for A/B runs.
    env: { type: 'string', multiple: true, default: [] },
  },
});
const extraEnv = Object.fromEntries(args.env.map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]));
const perRequest = args.kind === 'batch' ? 100 : 1;
const redis = await startRedis();
const kable = await startKable();
const prefix = `benchcpu${Math.random().toString(36).slice(2, 8)}`;
const service = await startService({
  role: 'api',
  redisUrl: redis.url,
  prefix,
  kableUrl: kable.url,
  profileDir: args.profile,
  name: `ingest-${args.kind}`,
  // Nothing delivers here, so the backlog only grows: keep backpressure (BACKLOG_LIMIT) out of the way.
  env: { BACKLOG_LIMIT: '1000000000', ...extraEnv },
});
const bodies = bodyFactory(args.kind, perRequest);
await runLoad(service.url, bodies, { connections: 50, amount: Math.round(Number(args.requests) / 3) }); // warm-up
const costs = [];
for (let i = 0; i < Number(args.repeat); i++) {
  const before = cpuSecondsOf(service.pid);
  const redisBefore = redis.pid ? cpuSecondsOf(redis.pid) : 0;
  const result = await runLoad(service.url, bodies, { connections: 50, amount: Number(args.requests) });
  const cpu = cpuSecondsOf(service.pid) - before;
  const redisCpu = redis.pid ? cpuSecondsOf(redis.pid) - redisBefore : NaN;
  const cost = (cpu * 1e6) / result.events;
  costs.push(cost);
  console.log(
    `run ${i + 1}: ${result.events} events, ${cpu.toFixed(2)} CPU-s, ${cost.toFixed(1)} µs CPU per event (Redis ${((redisCpu * 1e6) / result.events).toFixed(1)} µs), ${Math.round(result.eventsPerSec)} events/s`,
  );
}
costs.sort((a, b) => a - b);
console.log(`median: ${costs[Math.floor(costs.length / 2)]?.toFixed(1)} µs of service CPU per event (${args.kind})`);
await service.stop();
await kable.stop();
await deleteKeys(redis.client, prefix);
await redis.stop();
