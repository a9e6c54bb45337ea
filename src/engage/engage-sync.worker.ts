import { InjectQueue } from '@nestjs/bullmq';
import { Inject, Injectable, Logger, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import { type Job, type Queue, Worker } from 'bullmq';
import type { AppConfig } from '../platform/config/config.js';
import { APP_CONFIG } from '../platform/config/config.module.js';
import { connectRedis, type RedisClient } from '../platform/redis/connection.js';
import { RedisKeys } from '../platform/redis/keys.js';
import { withTimeout } from '../platform/redis/with-timeout.js';
import type { SyncReport } from './audience-sync.js';
import { ENGAGE_QUEUE, ENGAGE_SCHEDULER_ID, ENGAGE_SYNC_JOB, type EngageSyncJobData } from './engage.queues.js';
import { EngageService } from './engage.service.js';

/** Retries of the set-up: soon at first (a cluster client may still be finding its nodes), then every 30 s. */
const SCHEDULER_RETRY_MS = [1_000, 2_000, 5_000, 10_000, 30_000];
const SETUP_TIMEOUT_MS = 5_000;

/** Runs audience syncs: one scheduler for all replicas, global concurrency 1 so syncs never overlap; a sync that dies resumes. */
@Injectable()
export class EngageSyncWorker implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger('EngageSync');
  private worker?: Worker<EngageSyncJobData, SyncReport>;
  private connection?: RedisClient;
  private retryTimer?: NodeJS.Timeout;
  private stopping = false;
  private setUpFailures = 0;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly engage: EngageService,
    @InjectQueue(ENGAGE_QUEUE) private readonly queue: Queue<EngageSyncJobData, SyncReport>,
    private readonly keys: RedisKeys,
  ) {}

  /** Waits for the set-up at most SETUP_TIMEOUT_MS: a Redis that is down or refuses us must not keep the process from serving health and 503s. */
  async onModuleInit(): Promise<void> {
    await this.setUp();
  }

  /**
   * Sets the schedule up, then starts the worker: the global concurrency is set before this worker
   * can take a job (it is kept in Redis after the first boot). Retried while Redis does not answer.
   */
  private async setUp(): Promise<void> {
    try {
      await withTimeout(this.schedule(), SETUP_TIMEOUT_MS, () => new Error(`Redis did not answer within ${SETUP_TIMEOUT_MS} ms`));
    } catch (error) {
      if (this.stopping) return;
      const delay = SCHEDULER_RETRY_MS[Math.min(this.setUpFailures++, SCHEDULER_RETRY_MS.length - 1)] ?? 30_000;
      this.logger.error(`could not set up the audience sync schedule, retrying in ${delay / 1000} s: ${(error as Error).message}`);
      this.retryTimer = setTimeout(() => void this.setUp(), delay);
      return;
    }
    if (this.stopping) return;
    this.worker = new Worker<EngageSyncJobData, SyncReport>(ENGAGE_QUEUE, (job) => this.process(job), {
      connection: (this.connection = connectRedis(this.config.redis, 'worker')),
      prefix: this.keys.bullPrefix(0),
      concurrency: 1,
      maxStalledCount: 10,
    });
    this.worker.on('error', (error) => this.logger.error(`worker error: ${error.message}`));
    this.worker.on('failed', (job, error) => this.logger.warn(`audience sync ${job?.id ?? ''} failed: ${error.message}`));
  }

  /** Idempotent: same scheduler id and interval keep the existing schedule. */
  private async schedule(): Promise<void> {
    const every = this.config.engage.syncIntervalMs;
    await this.queue.setGlobalConcurrency(1);
    // The first scheduled sync is one interval after the very first boot; POST /v1/audiences/sync runs one now.
    await this.queue.upsertJobScheduler(
      ENGAGE_SCHEDULER_ID,
      { every, startDate: Date.now() + every },
      { name: ENGAGE_SYNC_JOB, data: { trigger: 'schedule' } },
    );
  }

  async process(job: Job<EngageSyncJobData, SyncReport>): Promise<SyncReport> {
    const report = await this.engage.sync();
    this.logger.log(
      `audience sync (${job.data.trigger}) queued ${report.events} Kable event(s) for ${report.audiences.length} audience(s)`,
    );
    return report;
  }

  async onApplicationShutdown(): Promise<void> {
    this.stopping = true;
    clearTimeout(this.retryTimer);
    await this.worker?.close();
    this.connection?.disconnect();
  }
}
