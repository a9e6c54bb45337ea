import { Injectable } from '@nestjs/common';
import { Counter, Gauge } from 'prom-client';
import { MetricsService } from '../metrics/metrics.service.js';

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
    const read = () => this.audienceCounts?.().catch(() => []) ?? Promise.resolve([]);
    const members = new Gauge({
      name: 'engage_audience_members',
      help: 'Current members of each Engage audience, read on scrape',
      labelNames: ['audience'],
      registers,
      async collect() {
        members.reset();
        for (const a of await read()) members.set({ audience: a.audience }, a.members);
      },
    });
    const pending = new Gauge({
      name: 'engage_pending_changes',
      help: 'Users of each Engage audience whose membership changed since the last sync, read on scrape',
      labelNames: ['audience'],
      registers,
      async collect() {
        pending.reset();
        for (const a of await read()) pending.set({ audience: a.audience }, a.pendingChanges);
      },
    });
  }
}
