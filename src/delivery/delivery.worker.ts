import { Inject, Injectable, Logger, type OnApplicationShutdown, type OnModuleInit, Optional } from '@nestjs/common';
import { type Job, UnrecoverableError, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import type { AppConfig } from '../platform/config/config.js';
import { APP_CONFIG } from '../platform/config/config.module.js';
import { MetricsService } from '../platform/metrics/metrics.service.js';
import { EventTraceStore, requestRuns, TRACE_ANSWER_CHARS, type TraceRecord } from '../trace/event-trace.js';
import { workerConnectionOptions } from '../platform/redis/redis.module.js';
import { BacklogCounter } from './backlog.counter.js';
import { DeadLetterStore, type DeadLetter } from './dead-letter.store.js';
import { activeJobsFor, BudgetClosedError, EventBudget, recentJobSize } from './event-budget.js';
import { decodeSizedEventJson, encodeEventJson, jobEventCount } from './job-data.js';
import { KableBatcher, type EventOutcome } from './kable-batcher.js';
import type { KableEvent } from '../segment/kable-event.js';

import { KableClient } from './kable/kable.client.js';
import { backoffDelay, RetryableDeliveryError, type SendResult } from './kable/kable.errors.js';
import { BACKOFF_TYPE, type DeliverJobData, QUEUES } from './queues.js';

type FailedOutcome = Exclude<EventOutcome, { kind: 'delivered' }>;

export interface DeliveryJobResult {
  delivered: number;
  failed: number;
}

/**
 * The active jobs hold at most this many full Kable requests' worth of events decoded
 * (4 × KABLE_MAX_IN_FLIGHT × KABLE_BATCH_SIZE, 16,000 by default): enough to keep every request
 * slot busy with the next batches ready.
 */
const BUDGET_REQUESTS = 4;

/**
 * The BullMQ worker that delivers `deliver` jobs to Kable. Many jobs are active at once (up to
 * DELIVERY_CONCURRENCY, fewer when they are large: fitConcurrency), their decoded events capped by
 * the EventBudget, and their events share Kable requests through the KableBatcher.
 * A job completes only once Kable has answered for every one of its events, so a crash
 * hands the job back (stalled-job recovery) and it is delivered again with the same
 * transactionIds, which Kable deduplicates.
 */
@Injectable()
export class KableDeliveryWorker implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger('KableDelivery');
  private worker?: Worker<DeliverJobData, DeliveryJobResult>;
  private connection?: Redis;
  private readonly client: KableClient;
  /** Carries each event as its JSON, as the job holds it (job-data.ts). */
  readonly batcher: KableBatcher<string>;
  /** Events the active jobs may hold decoded at once (EventBudget). */
  readonly budget: EventBudget;
  /**
   * Events per job of the recent jobs (recentJobSize): sets how many jobs to keep active
   * (fitConcurrency). Starts at ingest's largest job (1000 events), so that a worker starting on a
   * backlog does not take the whole of it before it knows.
   */
  private eventsPerJob: number;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly deadLetters: DeadLetterStore,
    private readonly metrics: MetricsService,
    private readonly backlog: BacklogCounter,
    @Optional() private readonly trace?: EventTraceStore,
  ) {
    this.client = new KableClient(config.kable);
    this.batcher = new KableBatcher<string>(
      (eventJson) => this.client.send(eventJson),
      config.kable,
      (result, events) => this.recordRequest(result, events),
    );
    this.budget = new EventBudget(BUDGET_REQUESTS * config.kable.maxInFlight * config.kable.batchSize);
    this.eventsPerJob = Math.min(1000, this.budget.limit);
  }

  onModuleInit(): void {
    const maxDelay = this.config.kable.retryMaxDelayMs;
    this.worker = new Worker<DeliverJobData, DeliveryJobResult>(QUEUES.delivery, (job) => this.process(job), {
      connection: (this.connection = new Redis(this.config.redis.url, workerConnectionOptions())),
      prefix: this.config.redis.prefix,
      concurrency: activeJobsFor(this.budget.limit, this.eventsPerJob, this.config.deliveryConcurrency),
      // The worker renews a job's lock at half this while the job waits for Kable. A crashed
      // worker's jobs are found stalled and handed to another worker within about twice this.
      lockDuration: this.config.deliveryLockMs,
      stalledInterval: this.config.deliveryLockMs,
      maxStalledCount: 1_000,
      // BullMQ only checks the queue's rate limit (set by worker.rateLimit on a 429) when a limiter
      // is configured; without one, only the worker that met the 429 paused and the others kept
      // sending. This limiter never binds on its own (a billion jobs a second).
      limiter: { max: 1_000_000_000, duration: 1000 },
      settings: {
        backoffStrategy: (attemptsMade: number, type?: string, error?: Error) =>
          type === BACKOFF_TYPE
            ? backoffDelay(attemptsMade, maxDelay, error instanceof RetryableDeliveryError ? error.retryAfterMs : undefined)
            : 1000,
      },
    });
    this.worker.on('error', (error) => this.logger.error(`worker error: ${error.message}`));
    this.worker.on('failed', (job, error) => {
      if (job && !(error instanceof RetryableDeliveryError)) this.logger.warn(`job ${job.id} failed: ${error.message}`);
    });
  }

  async onApplicationShutdown(): Promise<void> {
    // Stop taking jobs, send what is buffered now, and wait for the active jobs to finish. If Kable
    // is slow or down, what is still unsent after one request timeout is handed back instead, so
    // the stop takes at most about two request timeouts however large the backlog.
    const closing = this.worker?.close();
    // Jobs still waiting for room have sent nothing: they go back to the queue now.
    this.budget.close();
    this.batcher.flush();
    const giveUp = setTimeout(() => this.batcher.abandon('not sent before the worker stopped'), this.config.kable.requestTimeoutMs);
    await closing;
    clearTimeout(giveUp);
    await this.client.close();
    this.connection?.disconnect();
  }

  async process(job: Job<DeliverJobData, DeliveryJobResult>): Promise<DeliveryJobResult> {
    const count = jobEventCount(job.data) ?? this.budget.limit;
    this.fitConcurrency(count);
    let held: number;
    try {
      held = await this.budget.acquire(count);
    } catch (error) {
      // Retried later, here or by another worker, like events the batcher abandons at shutdown.
      if (error instanceof BudgetClosedError) throw new RetryableDeliveryError('not sent before the worker stopped');
      throw error;
    }
    try {
      return await this.deliver(job);
    } finally {
      this.budget.release(held);
    }
  }

  /** Keeps as many jobs active as the event budget can use at the recent job size (activeJobsFor). */
  private fitConcurrency(events: number): void {
    this.eventsPerJob = recentJobSize(this.eventsPerJob, events);
    const wanted = activeJobsFor(this.budget.limit, this.eventsPerJob, this.config.deliveryConcurrency);
    if (this.worker && this.worker.concurrency !== wanted) this.worker.concurrency = wanted;
  }

  private async deliver(job: Job<DeliverJobData, DeliveryJobResult>): Promise<DeliveryJobResult> {
    // Events too large for one Kable request (KABLE_MAX_REQUEST_BYTES) come back final: dead letters.
    const { json: eventJson, bytes } = decodeSizedEventJson(job.data);
    const outcomes = await this.batcher.submit(eventJson, bytes);
    const now = Date.now();

    const retry: number[] = [];
    const dead: DeadLetter[] = [];
    let delivered = 0;
    const attempts = job.attemptsMade + 1;
    // The common case (an ingest job delivered whole at its first attempt) is recorded with one key
    // for the job, which the event's dedup key points to; anything else with one record per event.
    const jobRecord =
      this.trace?.jobRecords === true &&
      job.id !== undefined &&
      job.data.source === 'ingest' &&
      job.attemptsMade === 0 &&
      job.data.retried === undefined && // a 429 rewrites the job without using an attempt
      outcomes.every((outcome) => outcome.kind === 'delivered');
    const traces: Array<[string, TraceRecord]> = [];
    const perEvent = !jobRecord && this.trace?.enabled === true;
    // An event's JSON is parsed only when a record names it, not when a whole job goes through.
    const event = (i: number) => JSON.parse(eventJson[i]) as KableEvent;
    outcomes.forEach((outcome, i) => {
      if (outcome.kind === 'delivered') {
        delivered += 1;
        if (perEvent) {
          traces.push([
            event(i).transactionId,
            { stage: 'delivered', at: now, jobId: job.id, attempts, kableRequestId: outcome.requestId },
          ]);
        }
        return;
      }
      const failed = event(i);
      const id = failed.transactionId;
      const { status, reason, body, requestId } = outcome;
      const failure = {
        at: now,
        jobId: job.id,
        attempts,
        status,
        reason,
        answer: body?.slice(0, TRACE_ANSWER_CHARS),
        kableRequestId: requestId,
      };
      if (outcome.kind === 'retryable' && now - job.timestamp < this.config.kable.retryHorizonMs) {
        retry.push(i);
        traces.push([id, { stage: 'retrying', ...failure }]);
        return;
      }
      dead.push(this.deadLetter(job, failed, outcome, now));
      traces.push([id, { stage: 'failed', ...failure, reason: dead[dead.length - 1].reason }]);
    });
    // For GET /v1/events/:messageId; losing a trace record must not hold up delivery.
    const recorded = jobRecord
      ? this.trace?.writeJob(job.id as string, {
          at: now,
          attempts,
          runs: requestRuns(outcomes.map((outcome) => outcome.requestId)),
        })
      : this.trace?.write(traces);
    await recorded?.catch((error: Error) => this.logger.warn(`could not record delivery traces: ${error.message}`));

    if (delivered > 0) {
      this.metrics.delivered.inc(delivered);
      this.metrics.lag.observe((now - job.timestamp) / 1000);
    }
    if (dead.length > 0) {
      await this.deadLetters.add(dead);
      for (const letter of dead) this.metrics.failed.inc({ status: String(letter.status ?? 'none') });
      this.logger.warn(
        `${dead.length} event(s) kept as dead letters: ${dead[0].reason}${dead[0].requestId ? ` (X-REQUEST-ID ${dead[0].requestId})` : ''}`,
      );
    }

    // Events Kable answered for (delivered, or kept as dead letters above) leave the backlog.
    await this.backlog
      .done(delivered + dead.length)
      .catch((error: Error) => this.logger.warn(`could not count the backlog: ${error.message}`));

    if (retry.length > 0) {
      this.metrics.retried.inc(retry.length);
      if (retry.length < eventJson.length) {
        // Only the events that still need Kable are tried again.
        await job.updateData({
          ...encodeEventJson(
            retry.map((i) => eventJson[i]),
            job.data.source,
          ),
          retried: true,
        });
      }
      const first = outcomes[retry[0]] as FailedOutcome;
      if (first.status === 429 && first.retryAfterMs !== undefined && this.worker) {
        // Kable asked us to slow down: pause the whole queue for that long. This does not use an attempt.
        await this.worker.rateLimit(first.retryAfterMs);
        throw Worker.RateLimitError();
      }
      throw new RetryableDeliveryError(`${first.reason}${first.body ? `: ${first.body}` : ''}`, first.retryAfterMs);
    }
    if (delivered === 0 && dead.length > 0) {
      // Every event of this job failed for good: show the job as failed (the dead letters keep the events).
      throw new UnrecoverableError(`${dead[0].reason}${dead[0].body ? `: ${dead[0].body}` : ''}`);
    }
    return { delivered, failed: dead.length };
  }

  private deadLetter(job: Job<DeliverJobData>, event: KableEvent, outcome: EventOutcome, now: number): DeadLetter {
    const failure = outcome as FailedOutcome;
    const reason =
      failure.kind === 'retryable'
        ? `gave up after the retry horizon (${Math.round(this.config.kable.retryHorizonMs / 60_000)} min): ${failure.reason}`
        : failure.reason;
    return {
      event,
      reason,
      status: failure.status,
      body: failure.body,
      requestId: failure.requestId,
      attempts: job.attemptsMade + 1,
      queuedAt: job.timestamp,
      failedAt: now,
      jobId: job.id,
    };
  }

  private recordRequest(result: SendResult, events: number): void {
    this.metrics.kableRequestDuration.observe({ outcome: result.kind }, result.durationMs / 1000);
    this.metrics.kableRequestEvents.observe(events);
    // One structured line per Kable request; X-REQUEST-ID is what Kable support asks for.
    const line = {
      msg: `Kable POST /api/v1/events/create: ${result.kind === 'ok' ? `HTTP ${result.status}` : result.reason}`,
      events,
      outcome: result.kind,
      status: result.status,
      durationMs: result.durationMs,
      kableRequestId: result.requestId,
    };
    if (result.kind === 'ok') this.logger.log(line);
    else this.logger.warn(line);
  }
}
