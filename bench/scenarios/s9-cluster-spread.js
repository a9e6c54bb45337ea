import { RedisClusterProcs } from '../lib/cluster.js';
import { bodyFactory, runLoad } from '../lib/load.js';
import { startService } from '../lib/procs.js';
import { waitFor } from '../lib/steps.js';

const EVENTS = 100_000;
const PER_REQUEST = 100;

/**
 * The same load as scenario 8 (100,000 events in batches of 100, delivered) on a 3-master Redis
 * Cluster of its own (REDIS_CLUSTER_NODES, 12 shards by default): how the Redis CPU spreads over
 * the masters, from each master's INFO cpu before and after.
 */
export default {
  id: 9,
  name: 'Redis Cluster: load spread over 3 masters',
  goal: 'no master takes more than half of the Redis CPU; nothing lost',
  async run(ctx) {
    const cluster = await RedisClusterProcs.start(3);
    try {
      const service = await startService({
        role: 'all',
        prefix: ctx.prefix('s9'),
        kableUrl: ctx.kable.url,
        name: 's9',
        env: { REDIS_CLUSTER_NODES: cluster.seeds },
      });
      await ctx.kable.mode(200);
      const bodies = bodyFactory('batch', PER_REQUEST);
      // Warm the JIT and the connections on the same cluster, then measure from a drained state.
      await runLoad(service.url, bodies, { connections: 20, amount: 100 });
      await waitFor(async () => (await ctx.kable.stats()).distinct >= 100 * PER_REQUEST, 30_000);
      await ctx.kable.reset(true);
      const before = await cluster.cpuSeconds();
      const started = Date.now();
      const load = await runLoad(service.url, bodies, { connections: 20, amount: EVENTS / PER_REQUEST });
      const delivered = await waitFor(async () => (await ctx.kable.stats()).distinct >= load.events, 60_000);
      const seconds = (Date.now() - started) / 1000;
      const after = await cluster.cpuSeconds();
      await service.stop();
      const used = after.map((cpu, i) => cpu - (before[i] ?? 0));
      const total = used.reduce((a, b) => a + b, 0);
      const shares = used.map((cpu) => cpu / total);
      const stats = await ctx.kable.stats();
      const largest = Math.max(...shares);
      return {
        events: load.events / seconds,
        extra: `masters ${shares.map((s) => `${(s * 100).toFixed(0)}%`).join(' / ')} of ${((total / load.events) * 1e6).toFixed(2)} µs/event; ${load.events - stats.distinct} missing`,
        met: delivered && largest <= 0.5 && stats.distinct === load.events,
        lines: [
          `  s9: Redis CPU per master (µs/event): ${used.map((cpu) => ((cpu / load.events) * 1e6).toFixed(2)).join(', ')}; largest share ${(largest * 100).toFixed(1)}%`,
        ],
        details: { events: load.events, delivered: stats.distinct, seconds, cpuSecondsPerMaster: used, shares, load },
      };
    } finally {
      await cluster.destroy();
    }
  },
};
