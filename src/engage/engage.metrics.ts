import { Injectable } from '@nestjs/common';
import { Counter, Gauge } from 'prom-client';
import { MetricsService } from '../metrics/metrics.service.js';

/** Engage metrics, registered in the service's one registry (served at GET /metrics). */
@Injectable()
export class EngageMetrics {
  readonly recorded: Counter;
  readonly syncs: Counter;
  readonly syncEvents: Counter;
  readonly lastSyncSeconds: Gauge;

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
  }
}
