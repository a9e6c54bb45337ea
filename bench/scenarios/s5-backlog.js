import { importFromDist } from '../lib/procs.js';
import { prefill } from '../lib/steps.js';

/** Redis memory per queued event while Kable is out of reach (an API-only service: nothing delivers). */
async function perEvent(ctx, name, events, perRequest) {
  const prefix = ctx.prefix(name);
  const r = await prefill(ctx, prefix, events, perRequest);
  // A dedup bucket (its name may hold binary bytes) and one job hash, in any shard.
  const [bucket] = (await ctx.redis.client.scanBuffer('0', 'MATCH', `${prefix}:*:seen:*:*`, 'COUNT', 10_000))[1];
  const [jobKey] = (await ctx.redis.client.scan('0', 'MATCH', `${prefix}:*:kable-delivery:[0-9]*`, 'COUNT', 10_000))[1];
  const { RECORD_BYTES } = await importFromDist('ingest/dedup-layout.js');
  const ids = bucket ? (await ctx.redis.client.strlen(bucket)) / RECORD_BYTES : 0;
  const dedupBytes = bucket && ids > 0 ? Math.round(Number(await ctx.redis.client.memory('USAGE', bucket, 'SAMPLES', '0')) / ids) : null;
  const jobBytes = jobKey ? await ctx.redis.client.memory('USAGE', jobKey, 'SAMPLES', '0') : null;
  await ctx.cleanup(prefix);
  return {
    events: r.accepted,
    perRequest,
    bytesPerEvent: (r.memoryAfter - r.memoryBefore) / r.accepted,
    /** A dedup bucket's MEMORY USAGE over its records: bytes per id. */
    dedupBytesPerId: dedupBytes,
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
