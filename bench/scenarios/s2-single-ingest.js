import { ingestVersusBaseline } from './ingest.js';

export default {
  id: 2,
  name: 'single-event ingest (/v1/track)',
  goal: '>= 0.5 x baseline, p99 <= 25 ms at half the peak rate',
  async run(ctx) {
    const { base, measured, halfRate, baseAtHalfRate, kable } = await ingestVersusBaseline(ctx, {
      kind: 'track',
      perRequest: 1,
      name: 's2',
    });
    if (!halfRate || !baseAtHalfRate) throw new Error('a track run measures at half rate too');
    const ratio = measured.eventsPerSec / base.eventsPerSec;
    return {
      events: measured.eventsPerSec,
      baseline: base.eventsPerSec,
      ratio,
      cpuRatio: measured.eventsPerCpuSecond / base.eventsPerCpuSecond,
      p50: measured.latency.p50,
      p99: measured.latency.p99,
      extra: `per CPU-s: ${Math.round(measured.eventsPerCpuSecond)} vs ${Math.round(base.eventsPerCpuSecond)}; at half rate (${Math.round(halfRate.requestsPerSec)}/s): p99 ${halfRate.latency.p99} ms (baseline at that rate: p99 ${baseAtHalfRate.latency.p99} ms)`,
      met: ratio >= 0.5 && halfRate.latency.p99 <= 25,
      details: { service: measured, halfRate, baseline: base, baselineAtHalfRate: baseAtHalfRate, kableDuringRun: kable },
    };
  },
};
