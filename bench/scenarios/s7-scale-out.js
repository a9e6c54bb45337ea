import { cpuSecondsOf, machineCpu, startService } from '../lib/procs.js';
import { endToEnd, measureDrain, prefill } from '../lib/steps.js';
import { e2eRow } from './s3-end-to-end.js';

/** `workers` worker processes. */
async function topology(ctx, prefix, workers) {
  const common = { redisUrl: ctx.redis.url, prefix, kableUrl: ctx.kable.url };
  // Started together, so that one does not drain the backlog alone while the other boots.
  return Promise.all(Array.from({ length: workers }, (_, i) => startService({ ...common, role: 'worker', name: `s7-worker${i}` })));
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

    // Delivery capacity: how fast 1 and then 2 worker processes drain the same backlog.
    const capacity = {};
    // 3,000,000 events by default (--scale-backlog): one worker drains 500,000 in under two
    // seconds, too short to compare, and the drain's pace changes as the backlog shrinks.
    for (const n of [1, 2]) {
      const p = ctx.prefix(`s7c${n}`);
      // Past BACKLOG_LIMIT (500,000), which would stop the prefill with 503s.
      const { accepted } = await prefill(ctx, p, ctx.scaleBacklogEvents, 100, { BACKLOG_LIMIT: String(ctx.scaleBacklogEvents * 2) });
      await ctx.kable.reset();
      const procs = await topology(ctx, p, n);
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
      capacity[n] = { ...(await measureDrain(ctx, accepted, 180_000)), backlog: accepted };
      const wall = (Date.now() - started) / 1000;
      const cpuAfter = cpuOf();
      const after = machineCpu();
      // How busy the 2 cores were while draining (workers, Redis, the fake Kable, the bench): near
      // 100% means the machine, not the worker, set the pace, and a 2nd worker cannot add to it.
      capacity[n].machineBusy = (after.busy - before.busy) / (after.total - before.total);
      capacity[n].cores = Object.fromEntries(
        Object.keys(parties).map((k) => [k, Number(((cpuAfter[k] - cpuBefore[k]) / wall).toFixed(2))]),
      );
      await stopAll(procs);
      await ctx.cleanup(p);
    }
    const row = e2eRow(e2e, ctx.e2eRate);
    const growth = capacity[2].eventsPerSec / capacity[1].eventsPerSec;
    return {
      ...row,
      extra: `${row.extra}; drain of ${capacity[1].backlog} / ${capacity[2].backlog} queued events: 1 worker ${Math.round(capacity[1].eventsPerSec)}/s, 2 workers ${Math.round(capacity[2].eventsPerSec)}/s (x${growth.toFixed(2)}); CPU busy ${pct(capacity[1].machineBusy)} / ${pct(capacity[2].machineBusy)}; cores used ${cores(capacity[1].cores)} / ${cores(capacity[2].cores)}`,
      met: growth > 1.05,
      details: { endToEnd: e2e, drainCapacity: capacity, growth },
    };
  },
};
