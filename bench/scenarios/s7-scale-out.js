import { cpuSecondsOf, machineCpu, startService } from '../lib/procs.js';
import { endToEnd, measureDrain, prefill } from '../lib/steps.js';
import { e2eRow } from './s3-end-to-end.js';

/** `workers` worker processes. */
async function topology(ctx, prefix, workers) {
  const common = { redisUrl: ctx.redis.url, prefix, kableUrl: ctx.kable.url };
  // Started together, so that one does not drain the backlog alone while the other boots.
  return Promise.all(Array.from({ length: workers }, (_, i) => startService({ ...common, role: 'worker', name: `s7-worker${i}` })));
}

/** Enough for about 10 s at one worker's ceiling with a 100 ms Kable (8 x 500 / 0.1 s = 40,000/s). */
const SLOW_BACKLOG = 400_000;

/**
 * Prefills `events` through an API process, then measures how fast `workers` worker processes
 * drain them with Kable taking `delayMs` per request, and the CPU each party used meanwhile.
 */
async function drainWith(ctx, workers, events, delayMs) {
  const p = ctx.prefix(`s7c${workers}d${delayMs}`);
  // Past BACKLOG_LIMIT (500,000), which would stop the prefill with 503s.
  const { accepted } = await prefill(ctx, p, events, 100, { BACKLOG_LIMIT: String(events * 2) });
  await ctx.kable.reset();
  await ctx.kable.mode(200, delayMs);
  const procs = await topology(ctx, p, workers);
  // CPU of each party while draining, in cores: what sets the pace.
  const parties = {
    workers: procs.map((w) => w.pid),
    redis: ctx.redis.pid ? [ctx.redis.pid] : [],
    'fake Kable': [ctx.kable.child.pid],
  };
  const cpuOf = () =>
    Object.fromEntries(Object.entries(parties).map(([k, pids]) => [k, pids.reduce((sum, pid) => sum + cpuSecondsOf(pid), 0)]));
  const before = machineCpu();
  const cpuBefore = cpuOf();
  const started = Date.now();
  const drained = await measureDrain(ctx, accepted, 180_000);
  const wall = (Date.now() - started) / 1000;
  const cpuAfter = cpuOf();
  const after = machineCpu();
  // How busy the 2 cores were while draining (workers, Redis, the fake Kable, the bench): near
  // 100% means the machine, not the worker, set the pace, and a 2nd worker cannot add to it.
  const drain = {
    ...drained,
    backlog: accepted,
    machineBusy: (after.busy - before.busy) / (after.total - before.total),
    cores: Object.fromEntries(Object.keys(parties).map((k) => [k, Number(((cpuAfter[k] - cpuBefore[k]) / wall).toFixed(2))])),
  };
  await stopAll(procs);
  await ctx.kable.mode(200);
  await ctx.cleanup(p);
  return drain;
}

const pct = (x) => `${Math.round(x * 100)}%`;
const cores = (byParty) =>
  Object.entries(byParty)
    .map(([k, v]) => `${k} ${v}`)
    .join(', ');

async function stopAll(procs) {
  await Promise.all(procs.map((p) => p.stop()));
}

export default {
  id: 7,
  name: 'scale-out: API + 2 worker processes',
  goal: 'end-to-end throughput grows with the second worker',
  async run(ctx) {
    // Scenario 3 with the worker in two processes beside an API-only process.
    const prefix = ctx.prefix('s7');
    const api = await startService({ role: 'api', redisUrl: ctx.redis.url, prefix, kableUrl: ctx.kable.url, name: 's7-api' });
    const workers = await topology(ctx, prefix, 2);
    const e2e = await endToEnd(ctx, api.url, prefix, { rate: ctx.e2eRate, duration: ctx.e2eDuration });
    await stopAll([api, ...workers]);
    await ctx.cleanup(prefix);

    // Delivery capacity: how fast 1 and then 2 worker processes drain the same backlog, first
    // with the fake Kable answering at once (the 2 cores are the limit), then with Kable taking
    // 100 ms per request as in scenario 4 (each worker's KABLE_MAX_IN_FLIGHT is the limit).
    // 3,000,000 events by default (--scale-backlog): one worker drains 500,000 in under two
    // seconds, too short to compare, and the drain's pace changes as the backlog shrinks.
    const capacity = {};
    const slow = {};
    for (const n of [1, 2]) capacity[n] = await drainWith(ctx, n, ctx.scaleBacklogEvents, 0);
    for (const n of [1, 2]) slow[n] = await drainWith(ctx, n, SLOW_BACKLOG, 100);
    const row = e2eRow(e2e, ctx.e2eRate);
    const growth = capacity[2].eventsPerSec / capacity[1].eventsPerSec;
    const slowGrowth = slow[2].eventsPerSec / slow[1].eventsPerSec;
    return {
      ...row,
      extra: `${row.extra}; drain of ${capacity[1].backlog} / ${capacity[2].backlog} queued events: 1 worker ${Math.round(capacity[1].eventsPerSec)}/s, 2 workers ${Math.round(capacity[2].eventsPerSec)}/s (x${growth.toFixed(2)}); CPU busy ${pct(capacity[1].machineBusy)} / ${pct(capacity[2].machineBusy)}; cores used ${cores(capacity[1].cores)} / ${cores(capacity[2].cores)}; with Kable at 100 ms per request, drain of ${slow[1].backlog}: 1 worker ${Math.round(slow[1].eventsPerSec)}/s, 2 workers ${Math.round(slow[2].eventsPerSec)}/s (x${slowGrowth.toFixed(2)})`,
      // Grows where a worker is the limit (Kable's latency); with an instant Kable the 2 cores,
      // shared with the fake Kable, are (BENCHMARKS.md).
      met: slowGrowth > 1.05,
      details: { endToEnd: e2e, drainCapacity: capacity, growth, slowKableDrain: slow, slowGrowth },
    };
  },
};
