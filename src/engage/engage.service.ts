import { InjectQueue } from '@nestjs/bullmq';
import { Inject, Injectable, Logger, type OnApplicationShutdown } from '@nestjs/common';
import { type Queue, QueueEvents } from 'bullmq';
import type { AppConfig } from '../platform/config/config.js';
import { APP_CONFIG } from '../platform/config/config.module.js';
import { formatDuration } from '../platform/config/duration.js';
import { DeliveryProducer } from '../delivery/delivery.producer.js';
import { MetricsService } from '../platform/metrics/metrics.service.js';
import { connectRedis } from '../platform/redis/connection.js';
import { REDIS, type RedisClient, RedisKeys } from '../platform/redis/redis.module.js';
import { AudienceSync, type SyncReport } from './audience-sync.js';
import { AudienceStore, type LastSync } from './audience.store.js';
import { EngageMetrics } from './engage.metrics.js';
import { ENGAGE_QUEUE, ENGAGE_SCHEDULER_ID, ENGAGE_SYNC_JOB, type EngageSyncJobData } from './engage.queues.js';
import { countInAudiences, type Membership } from '../segment/membership.js';

export interface AudienceStatus {
  key: string;
  members: number;
  /** Users whose membership changed since the last sync (some changes may cancel out). */
  pendingChanges: number;
  lastSync: LastSync | null;
  /** When the next scheduled sync is due, ISO-8601 (null if no scheduler exists yet). */
  nextSync: string | null;
}

export type ManualSyncResult = { status: 'completed'; jobId: string; report: SyncReport } | { status: 'running'; jobId: string };

/** A sync requested through the API failed after its retries; what it did not finish resumes on the next sync. */
export class AudienceSyncFailedError extends Error {
  constructor(
    readonly jobId: string,
    cause: string,
  ) {
    super(`the audience sync failed after its retries: ${cause}; what it did not finish resumes on the next sync`);
  }
}

/** The skip reason of membership of a new audience past ENGAGE_MAX_AUDIENCES. */
export const TOO_MANY_AUDIENCES = 'too_many_audiences';

const AUDIENCE_LIMIT_LOG_INTERVAL_MS = 3_600_000;

/** How long POST /v1/audiences/sync waits for the sync before answering that it is still running. */
const MANUAL_SYNC_WAIT_MS = 60_000;

/** Engage audience membership: recording it at ingest, syncing it to Kable, reporting on it. */
@Injectable()
export class EngageService implements OnApplicationShutdown {
  readonly store: AudienceStore;
  private queueEvents?: QueueEvents;
  private eventsConnection?: RedisClient;
  private readonly logger = new Logger('Engage');
  private lastAudienceLimitLog = -Infinity;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(REDIS) redis: RedisClient,
    private readonly keys: RedisKeys,
    private readonly producer: DeliveryProducer,
    @InjectQueue(ENGAGE_QUEUE) readonly queue: Queue<EngageSyncJobData, SyncReport>,
    private readonly metrics: EngageMetrics,
    private readonly ingestMetrics: MetricsService,
  ) {
    this.store = new AudienceStore(redis, (...parts) => keys.key(...parts));
    this.metrics.audienceCounts = () => this.store.status();
    // RedisModule already logs the shared connection's errors.
    this.queue.on('error', () => undefined);
  }

  /** Stores a request's memberships (one Redis call); resolves with how many were skipped as too_many_audiences. */
  async record(memberships: Membership[]): Promise<number> {
    const { refused } = await this.store.record(memberships, this.config.engage.maxAudiences);
    let skipped = 0;
    for (const [type, count] of countInAudiences(memberships, refused)) {
      this.ingestMetrics.skipped.inc({ type, reason: TOO_MANY_AUDIENCES }, count);
      skipped += count;
    }
    this.metrics.recorded.inc(memberships.length - skipped);
    if (skipped > 0) this.warnAudienceLimit(refused);
    return skipped;
  }

  /** One line per AUDIENCE_LIMIT_LOG_INTERVAL_MS, not one per message: a flood of made-up audiences must not flood the log too. */
  private warnAudienceLimit(refused: string[]): void {
    const now = Date.now();
    if (now - this.lastAudienceLimitLog < AUDIENCE_LIMIT_LOG_INTERVAL_MS) return;
    this.lastAudienceLimitLog = now;
    const { maxAudiences } = this.config.engage;
    this.logger.warn(
      `${maxAudiences} Engage audiences exist, the limit (ENGAGE_MAX_AUDIENCES): membership of new audiences is skipped (too_many_audiences), ` +
        `e.g. ${JSON.stringify((refused[0] ?? '').slice(0, 100))}. If these audiences are real, raise ENGAGE_MAX_AUDIENCES; ` +
        `if a sender makes up audience keys, find it (segment_messages_skipped_total{reason="too_many_audiences"}). ` +
        `Logged at most once an hour.`,
    );
  }

  /** Runs one sync in this process (the sync worker calls this; scripts may too). */
  async sync(): Promise<SyncReport> {
    const sync = new AudienceSync(
      this.store,
      async (events) => {
        await this.producer.enqueue(events, 'engage');
        this.metrics.syncEvents.inc(events.length);
      },
      { batchSize: this.config.kable.batchSize },
    );
    const stopTimer = this.metrics.lastSyncSeconds.startTimer();
    try {
      const report = await sync.run();
      this.metrics.syncs.inc({ result: 'ok' });
      this.metrics.lastSyncSuccess.set(1);
      return report;
    } catch (error) {
      this.metrics.syncs.inc({ result: 'failed' });
      this.metrics.lastSyncSuccess.set(0);
      throw error;
    } finally {
      stopTimer();
    }
  }

  async status(): Promise<{ syncInterval: string; nextSync: string | null; audiences: AudienceStatus[] }> {
    const [audiences, scheduler] = await Promise.all([this.store.status(), this.queue.getJobScheduler(ENGAGE_SCHEDULER_ID)]);
    const nextSync = scheduler?.next ? new Date(scheduler.next).toISOString() : null;
    return {
      syncInterval: formatDuration(this.config.engage.syncIntervalMs),
      nextSync,
      audiences: audiences.map(({ audience, ...rest }) => ({ key: audience, ...rest, nextSync })),
    };
  }

  /** Queues a sync now (it runs on the sync worker, after any running one) and waits a while for its report. */
  async requestSync(): Promise<ManualSyncResult> {
    const events = await this.events();
    const job = await this.queue.add(ENGAGE_SYNC_JOB, { trigger: 'manual' });
    const jobId = job.id!;
    try {
      const report = await job.waitUntilFinished(events, MANUAL_SYNC_WAIT_MS);
      return { status: 'completed', jobId, report };
    } catch (error) {
      const state = await this.queue.getJobState(jobId).catch(() => 'unknown');
      if (state === 'failed') throw new AudienceSyncFailedError(jobId, (error as Error).message);
      return { status: 'running', jobId };
    }
  }

  private async events(): Promise<QueueEvents> {
    if (!this.queueEvents) {
      this.queueEvents = new QueueEvents(ENGAGE_QUEUE, {
        connection: (this.eventsConnection = connectRedis(this.config.redis, 'worker')),
        prefix: this.keys.bullPrefix(0),
      });
    }
    await this.queueEvents.waitUntilReady();
    return this.queueEvents;
  }

  async onApplicationShutdown(): Promise<void> {
    await this.queueEvents?.close();
    this.eventsConnection?.disconnect();
  }
}
