// Scenarios 1 and 2: peak ingest, beside the baseline measured in the same run. The two servers
// are measured in alternating rounds, so that a change in the machine's load (it is shared) hits
// both alike; the CPU time each server process used gives a second, load-independent ratio.
import { bodyFactory, runLoad } from '../lib/load.js';
import { cpuSecondsOf, startBaseline, startService } from '../lib/procs.js';
import { warmUp } from '../lib/steps.js';

const ROUNDS = 2;

async function measure(target, bodies, options) {
  const cpuBefore = cpuSecondsOf(target.pid);
  const result = await runLoad(target.url, bodies, options);
  return { ...result, cpuSeconds: cpuSecondsOf(target.pid) - cpuBefore };
}

function combine(runs, eventsPerRequest) {
  const duration = runs.reduce((a, r) => a + r.duration, 0);
  const ok = runs.reduce((a, r) => a + r.ok, 0);
  const cpuSeconds = runs.reduce((a, r) => a + r.cpuSeconds, 0);
  const events = ok * eventsPerRequest;
  return {
    eventsPerSec: events / duration,
    requestsPerSec: ok / duration,
    events,
    cpuSeconds,
    // Events per second of the server process's own CPU time: what one core would do if it had it alone.
    eventsPerCpuSecond: cpuSeconds > 0 ? events / cpuSeconds : NaN,
    // Latency percentiles: the worst round's (autocannon gives percentiles per run).
    latency: { p50: Math.max(...runs.map((r) => r.latency.p50)), p99: Math.max(...runs.map((r) => r.latency.p99)) },
    errors: runs.reduce((a, r) => a + r.errors + r.non2xx, 0),
    rounds: runs,
  };
}

export async function ingestVersusBaseline(ctx, { kind, perRequest, name }) {
  const bodies = bodyFactory(kind, perRequest);
  const options = { connections: 50, duration: Math.max(1, Math.round(ctx.duration / ROUNDS)) };

  const basePrefix = ctx.prefix(`${name}b`);
  const baseline = await startBaseline({ redisUrl: ctx.redis.url, prefix: basePrefix });
  // The service runs its delivery worker at the same time, against the fake Kable answering 200.
  await ctx.kable.mode(200);
  await ctx.kable.reset();
  const prefix = ctx.prefix(name);
  const service = await startService({
    role: 'all',
    redisUrl: ctx.redis.url,
    prefix,
    kableUrl: ctx.kable.url,
    name,
    profileDir: ctx.profileDir,
  });
  await warmUp(baseline.url, bodies, ctx);
  await warmUp(service.url, bodies, ctx);

  const baseRuns = [];
  const serviceRuns = [];
  for (let round = 0; round < ROUNDS; round++) {
    baseRuns.push(await measure(baseline, bodies, options));
    serviceRuns.push(await measure(service, bodies, options));
  }
  let halfRate;
  let baseAtHalfRate;
  if (kind === 'track') {
    const peak = combine(serviceRuns, perRequest).requestsPerSec;
    const rated = { ...options, duration: ctx.duration, rate: Math.max(1, Math.round(peak / 2)) };
    halfRate = await runLoad(service.url, bodies, rated);
    // The baseline at the same offered rate: the latency floor of this machine at that moment.
    baseAtHalfRate = await runLoad(baseline.url, bodies, rated);
  }
  const kable = await ctx.kable.stats();
  await Promise.all([service.stop(), baseline.stop()]);
  await ctx.cleanup(prefix);
  await ctx.cleanup(basePrefix);
  return { base: combine(baseRuns, perRequest), measured: combine(serviceRuns, perRequest), halfRate, baseAtHalfRate, kable };
}
