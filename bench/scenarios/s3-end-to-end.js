import { startService } from '../lib/procs.js';
import { endToEnd } from '../lib/steps.js';

export default {
  id: 3,
  name: 'end to end at 10,000 events/s',
  goal: 'keeps up, lag p99 <= 2 s, >= 100 events per Kable request',
  async run(ctx) {
    const prefix = ctx.prefix('s3');
    const service = await startService({ role: 'all', redisUrl: ctx.redis.url, prefix, kableUrl: ctx.kable.url, name: 's3' });
    const r = await endToEnd(ctx, service.url, prefix, { rate: ctx.e2eRate, duration: ctx.e2eDuration });
    await service.stop();
    await ctx.cleanup(prefix);
    return e2eRow(r, ctx.e2eRate);
  },
};

/**
 * Keeping up: the offered rate was accepted, Kable received events at that rate while the load
 * ran, and every accepted event arrived. (Events per second from the load's start to the last
 * receipt, used before, also counted the last partial batch's wait for KABLE_FLUSH_INTERVAL,
 * about a second, as if the service had been slow; it is still reported in the details.)
 */
export function e2eRow(r, rate) {
  const keepsUp = r.missing === 0 && r.deliveredDuringLoadPerSec >= 0.95 * rate && r.acceptedEventsPerSec >= 0.95 * rate;
  return {
    events: r.deliveredDuringLoadPerSec,
    p50: r.lagMs.p50,
    p99: r.lagMs.p99,
    latencyIs: 'lag',
    extra: `lag; ${r.eventsPerKableRequest?.toFixed(0)} events/Kable req; ${r.missing} missing, ${r.duplicates} dup`,
    met: keepsUp && r.lagMs.p99 !== null && r.lagMs.p99 <= 2000 && (r.eventsPerKableRequest ?? 0) >= 100,
    details: r,
  };
}
