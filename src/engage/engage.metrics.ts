import { Injectable } from '@nestjs/common';
import { Counter, Gauge } from 'prom-client';
import { MetricsService } from '../platform/metrics/metrics.service.js';
import { AUDIENCE_SERIES_LIMIT, audienceSeries, OTHER_AUDIENCES, sharedRead } from './audience-series.js';

/** How long one read of the audiences' counts serves scrapes. */
const COUNTS_MAX_AGE_MS = 5000;

/** What the member and pending-change gauges read on each scrape. */
export type AudienceCounts = () => Promise<Array<{ audience: string; members: number; pendingChanges: number }>>;

/** Engage metrics, registered in the service's one registry (served at GET /metrics). */
@Injectable()
export class EngageMetrics {
  readonly recorded: Counter;
  readonly syncs: Counter;
  readonly syncEvents: Counter;
  readonly lastSyncSeconds: Gauge;
  readonly lastSyncSuccess: Gauge;
  /** Set by EngageService: reads the audiences' counts from Redis when /metrics is scraped. */
  audienceCounts?: AudienceCounts;

  constructor(metrics: MetricsService) {
    const registers = [metrics.registry];
    this.recorded = new Counter({
      name: 'engage_memberships_recorded_total',
      help: 'Engage audience membership messages stored for the next audience sync',
      registers,
    });
    this.syncs = new Counter({
      name: 'engage_syncs_total',
      help: 'Audience sync attempts run by this process, by result (ok, failed)',
      labelNames: ['result'],
      registers,
    });
    this.syncEvents = new Counter({
      name: 'engage_sync_events_total',
      help: 'Kable events queued by audience syncs (membership changes)',
      registers,
    });
    this.lastSyncSeconds = new Gauge({
      name: 'engage_last_sync_duration_seconds',
      help: 'Duration of the last audience sync run by this process',
      registers,
    });
    this.lastSyncSuccess = new Gauge({
      name: 'engage_last_sync_success',
      help: '1 if the last audience sync run by this process succeeded, 0 if it failed',
      registers,
    });
    // One Redis read serves every scrape within a few seconds, and both gauges of a scrape.
    const read = sharedRead(async () => audienceSeries((await this.audienceCounts?.().catch(() => [])) ?? []), COUNTS_MAX_AGE_MS);
    const members = new Gauge({
      name: 'engage_audience_members',
      help: `Current members of each Engage audience, read on scrape: the ${AUDIENCE_SERIES_LIMIT} largest by members, the rest summed as audience="${OTHER_AUDIENCES}"`,
      labelNames: ['audience'],
      registers,
      async collect() {
        const series = await read();
        members.reset();
        for (const a of series) members.set({ audience: a.audience }, a.members);
      },
    });
    const pending = new Gauge({
      name: 'engage_pending_changes',
      help: `Users of each Engage audience whose membership changed since the last sync, read on scrape (the audiences of engage_audience_members, the rest summed as audience="${OTHER_AUDIENCES}")`,
      labelNames: ['audience'],
      registers,
      async collect() {
        const series = await read();
        pending.reset();
        for (const a of series) pending.set({ audience: a.audience }, a.pendingChanges);
      },
    });
  }
}
