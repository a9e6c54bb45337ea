// Scenario 8: what each event costs Redis. 100,000 events in batches of 100 go through the whole
// service (ingest and delivery to the fake Kable, tracing on); then the growth of Redis's
// used_memory is what the service keeps per event for DEDUP_WINDOW, and Redis's CPU time (INFO cpu)
// per event what one Redis core can carry. The baseline (node:http + one BullMQ add per request)
// takes the same requests. Each has a fresh redis-server of its own, so nothing else is counted. The
// two alternate for ROUNDS rounds and the medians count: on a shared 2-core machine one run's Redis
// CPU per event has varied by half on the same build.
import { bodyFactory, runLoad } from '../lib/load.js';
import { sleep, startBaseline, startService } from '../lib/procs.js';
import { commandStats, queueDepth, queuePrefixes, redisCpuSeconds, startRedis, usedMemory } from '../lib/redis.js';
import { waitFor } from '../lib/steps.js';

const EVENTS = 100_000;
const PER_REQUEST = 100;
/** Loads the scripts and makes the queues' keys before measuring: once per Redis, not per event. */
const WARMUP_REQUESTS = 10;
/** Concurrent senders, as in the prefill of scenarios 4, 5 and 7. */
const CONNECTIONS = 20;
const TOP_COMMANDS = 8;
/** Service and baseline runs, alternated (BENCH_S8_ROUNDS). */
const ROUNDS = Number(process.env.BENCH_S8_ROUNDS ?? 3);

/** INFO memory's parts that say where used_memory goes beyond the keys. */
async function memoryParts(client) {
  const info = await client.info('memory');
  const parts = ['used_memory_dataset', 'used_memory_overhead', 'mem_clients_normal', 'mem_aof_buffer', 'used_memory_scripts'];
  return Object.fromEntries(parts.map((name) => [name, Number(new RegExp(`^${name}:(\\d+)`, 'm').exec(info)?.[1] ?? NaN)]));
}

/** Redis's used_memory, CPU time and command stats around `work`, per event. */
async function measureRedis(client, events, work) {
  await client.config('RESETSTAT');
  const partsBefore = await memoryParts(client);
  const memoryBefore = await usedMemory(client);
  const cpuBefore = await redisCpuSeconds(client);
  const started = Date.now();
  await work();
  const seconds = (Date.now() - started) / 1000;
  const cpuSeconds = (await redisCpuSeconds(client)) - cpuBefore;
  const memoryAfter = await usedMemory(client);
  const partsAfter = await memoryParts(client);
  const memoryGrowthByPart = Object.fromEntries(
    Object.entries(partsAfter).map(([name, after]) => [name, after - (partsBefore[name] ?? 0)]),
  );
  const commands = (await commandStats(client)).map((c) => ({ ...c, usecPerEvent: c.usec / events, usecPerCall: c.usec / c.calls }));
  return {
    events,
    seconds,
    memoryGrowth: memoryAfter - memoryBefore,
    memoryGrowthByPart,
    bytesPerEvent: (memoryAfter - memoryBefore) / events,
    cpuSeconds,
    cpuUsecPerEvent: (cpuSeconds * 1e6) / events,
    commands,
  };
}

/** Memory of the service's keys by family (the key with its prefix, hash tag and ids cut off), largest first. */
async function memoryByFamily(client, prefix) {
  const families = new Map();
  let cursor = '0';
  do {
    // Buffers: a key need not be UTF-8.
    const [next, keys] = await client.scanBuffer(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
    cursor = next.toString();
    const pipeline = client.pipeline();
    for (const key of keys) pipeline.memory('USAGE', key, 'SAMPLES', '0');
    const sizes = (await pipeline.exec()) ?? [];
    keys.forEach((key, i) => {
      const family = key
        .toString('latin1')
        .slice(prefix.length + 1)
        .replace(/^\{[^}]*\}:/, '')
        .split(':')
        .map((part) => (/^\d+$/.test(part) ? '<n>' : part))
        .slice(0, 2)
        .join(':');
      const entry = families.get(family) ?? { family, keys: 0, bytes: 0 };
      entry.keys += 1;
      entry.bytes += Number(sizes[i]?.[1] ?? 0);
      families.set(family, entry);
    });
  } while (cursor !== '0');
  return [...families.values()].sort((a, b) => b.bytes - a.bytes);
}

async function runService(ctx) {
  const redis = await startRedis({ own: true });
  const prefix = ctx.prefix('s8');
  await ctx.kable.mode(200);
  await ctx.kable.reset();
  const service = await startService({ role: 'all', redisUrl: redis.url, prefix, kableUrl: ctx.kable.url, name: 's8' });
  try {
    const bodies = bodyFactory('batch', PER_REQUEST);
    const delivered = async (n) => {
      if (!(await waitFor(async () => (await ctx.kable.stats()).distinct >= n, 120_000, 100))) {
        throw new Error(`Kable received ${(await ctx.kable.stats()).distinct} of ${n} events`);
      }
      // Kable has them; the jobs complete (and their trace records are written) just after.
      await waitFor(async () => (await queueDepth(redis.client, prefix)) === 0, 30_000, 50);
    };
    await runLoad(service.url, bodies, { connections: 5, amount: WARMUP_REQUESTS });
    await delivered(WARMUP_REQUESTS * PER_REQUEST);
    await queuePrefixes(redis.client, prefix); // found once, so that polling the queue is not a SCAN
    await sleep(1000);
    let accepted = 0;
    const measured = await measureRedis(redis.client, EVENTS, async () => {
      const load = await runLoad(service.url, bodies, { connections: CONNECTIONS, amount: EVENTS / PER_REQUEST });
      accepted = load.events;
      await delivered(WARMUP_REQUESTS * PER_REQUEST + load.events);
      // Anything the last completions still write (and the AOF buffer, flushed each second).
      await sleep(1000);
    });
    const stats = await ctx.kable.stats();
    return { ...measured, accepted, duplicates: stats.duplicates, families: await memoryByFamily(redis.client, prefix) };
  } finally {
    await service.stop();
    await redis.stop();
  }
}

async function runBaseline(ctx) {
  const redis = await startRedis({ own: true });
  const baseline = await startBaseline({ redisUrl: redis.url, prefix: ctx.prefix('s8b') });
  try {
    const bodies = bodyFactory('batch', PER_REQUEST);
    await runLoad(baseline.url, bodies, { connections: 5, amount: WARMUP_REQUESTS });
    await sleep(1000);
    return await measureRedis(redis.client, EVENTS, async () => {
      await runLoad(baseline.url, bodies, { connections: CONNECTIONS, amount: EVENTS / PER_REQUEST });
    });
  } finally {
    await baseline.stop();
    await redis.stop();
  }
}

const us = (v) => v.toFixed(2);

function commandLines(commands) {
  return commands
    .slice(0, TOP_COMMANDS)
    .map((c) => `  ${c.command}: ${c.calls} calls, ${us(c.usecPerCall)} µs/call, ${us(c.usecPerEvent)} µs/event`);
}

/** The run whose Redis CPU per event is the median of `runs` (its other figures with it). */
function median(runs) {
  const sorted = [...runs].sort((a, b) => a.cpuUsecPerEvent - b.cpuUsecPerEvent);
  return sorted[Math.floor((sorted.length - 1) / 2)];
}

export default {
  id: 8,
  name: 'Redis cost per event (100,000 events, batches of 100, delivered)',
  goal: '<= 48 B kept per delivered event, <= 3 µs Redis CPU per event',
  async run(ctx) {
    const services = [];
    const baselines = [];
    for (let round = 0; round < ROUNDS; round++) {
      services.push(await runService(ctx));
      baselines.push(await runBaseline(ctx));
    }
    const service = median(services);
    const baseline = median(baselines);
    const ratio = service.cpuUsecPerEvent / baseline.cpuUsecPerEvent;
    const top = service.commands
      .slice(0, TOP_COMMANDS)
      .map((c) => `${c.command} ${us(c.usecPerEvent)}`)
      .join(', ');
    const complete = services.every((s) => s.accepted === EVENTS && s.duplicates === 0);
    const worstBytes = Math.max(...services.map((s) => s.bytesPerEvent));
    return {
      bytesPerEvent: worstBytes,
      extra:
        `Redis CPU ${us(service.cpuUsecPerEvent)} µs/event (baseline ${us(baseline.cpuUsecPerEvent)}, ${ratio.toFixed(2)}x; medians of ${ROUNDS}); ` +
        `µs/event by command (INFO commandstats; a script's time includes its commands): ${top}` +
        (complete
          ? ''
          : `; accepted ${services.map((s) => s.accepted).join('/')} of ${EVENTS}, ${services.map((s) => s.duplicates).join('/')} duplicates`),
      met: complete && worstBytes <= 48 && service.cpuUsecPerEvent <= 3,
      details: { services, baselines },
      lines: [
        `kept after delivery: ${worstBytes.toFixed(1)} B/event at most (runs: ${services.map((s) => s.bytesPerEvent.toFixed(1)).join(', ')}); median run: used_memory +${service.memoryGrowth} B: ${Object.entries(
          service.memoryGrowthByPart,
        )
          .map(([name, bytes]) => `${name} ${bytes >= 0 ? '+' : ''}${bytes}`)
          .join(', ')}`,
        `Redis CPU per event, service then baseline in each round: ${services
          .map((s, i) => `${us(s.cpuUsecPerEvent)} / ${us(baselines[i]?.cpuUsecPerEvent ?? NaN)}`)
          .join(', ')} µs`,
        `Redis CPU: service ${us(service.cpuUsecPerEvent)} µs/event, baseline ${us(baseline.cpuUsecPerEvent)} µs/event (medians), ratio ${ratio.toFixed(2)}`,
        'service (median run), top commands (a script includes the commands it calls):',
        ...commandLines(service.commands),
        'baseline (median run), top commands:',
        ...commandLines(baseline.commands),
        'service keys by family (MEMORY USAGE after the median run):',
        ...service.families
          .slice(0, TOP_COMMANDS)
          .map((f) => `  ${f.family}: ${f.keys} keys, ${f.bytes} B (${(f.bytes / EVENTS).toFixed(1)} B/event)`),
      ],
    };
  },
};
