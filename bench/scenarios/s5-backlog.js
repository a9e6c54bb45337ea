import { prefill } from '../lib/steps.js';

/** Redis memory per queued event while Kable is out of reach (an API-only service: nothing delivers). */
async function perEvent(ctx, name, events, perRequest) {
  const prefix = ctx.prefix(name);
  const r = await prefill(ctx, prefix, events, perRequest);
  const [dedupKey] = (await ctx.redis.client.scan('0', 'MATCH', `${prefix}:dedup:*`, 'COUNT', 1000))[1];
  const [jobKey] = (await ctx.redis.client.scan('0', 'MATCH', `${prefix}:kable-delivery:[0-9]*`, 'COUNT', 1000))[1];
  const dedupBytes = dedupKey ? await ctx.redis.client.memory('USAGE', dedupKey) : null;
  const jobBytes = jobKey ? await ctx.redis.client.memory('USAGE', jobKey, 'SAMPLES', '0') : null;
  await ctx.cleanup(prefix);
  return {
    events: r.accepted,
    perRequest,
    bytesPerEvent: (r.memoryAfter - r.memoryBefore) / r.accepted,
    dedupKeyBytes: dedupBytes,
    jobHashBytes: jobBytes,
  };
}

export default {
  id: 5,
  name: 'backlog: Redis memory per queued event',
  goal: '<= 300 bytes per queued event',
  async run(ctx) {
    const batched = await perEvent(ctx, 's5b', ctx.backlogEvents, 100);
    const single = await perEvent(ctx, 's5s', Math.round(ctx.backlogEvents / 10), 1);
    return {
      bytesPerEvent: batched.bytesPerEvent,
      extra: `${batched.bytesPerEvent.toFixed(0)} B/event in batches of 100; ${single.bytesPerEvent.toFixed(0)} B/event one per request`,
      met: batched.bytesPerEvent <= 300,
      details: { batched, single },
    };
  },
};
