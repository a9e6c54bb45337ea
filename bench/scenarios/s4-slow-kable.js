import { startService } from '../lib/procs.js';
import { measureDrain, prefill } from '../lib/steps.js';

export default {
  id: 4,
  name: 'delivery, Kable takes 100 ms per request',
  goal: '>= 20,000 events/s',
  async run(ctx) {
    const prefix = ctx.prefix('s4');
    const { accepted } = await prefill(ctx, prefix, ctx.backlogEvents);
    await ctx.kable.reset();
    await ctx.kable.mode(200, 100);
    const worker = await startService({ role: 'worker', redisUrl: ctx.redis.url, prefix, kableUrl: ctx.kable.url, name: 's4' });
    const drain = await measureDrain(ctx, accepted, 120_000);
    await worker.stop();
    await ctx.kable.mode(200);
    await ctx.cleanup(prefix);
    return {
      events: drain.eventsPerSec,
      extra: `${accepted} queued events drained in ${drain.seconds.toFixed(1)} s; ${drain.eventsPerKableRequest?.toFixed(0)} events/req`,
      met: drain.done && drain.eventsPerSec >= 20_000,
      details: { accepted, ...drain },
    };
  },
};
