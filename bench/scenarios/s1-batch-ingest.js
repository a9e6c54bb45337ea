import { ingestVersusBaseline } from './ingest.js';

export default {
  id: 1,
  name: 'batch ingest (/v1/batch, 100 events)',
  goal: '>= 0.5 x baseline and >= 100,000 events/s',
  async run(ctx) {
    const { base, measured, kable } = await ingestVersusBaseline(ctx, { kind: 'batch', perRequest: 100, name: 's1' });
    const ratio = measured.eventsPerSec / base.eventsPerSec;
    return {
      events: measured.eventsPerSec,
      baseline: base.eventsPerSec,
      ratio,
      cpuRatio: measured.eventsPerCpuSecond / base.eventsPerCpuSecond,
      p50: measured.latency.p50,
      p99: measured.latency.p99,
      extra: `per CPU-s: ${Math.round(measured.eventsPerCpuSecond)} vs ${Math.round(base.eventsPerCpuSecond)}; delivered meanwhile ${kable.distinct}`,
      met: ratio >= 0.5 && measured.eventsPerSec >= 100_000,
      details: { service: measured, baseline: base, kableDuringRun: kable },
    };
  },
};
