import { Inject, Injectable, Logger, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import { type Job, UnrecoverableError, Worker } from 'bullmq';
import type { AppConfig } from '../platform/config/config.js';
import { APP_CONFIG } from '../platform/config/config.module.js';
import { MetricsService } from '../platform/metrics/metrics.service.js';
import { EventTraceStore } from '../trace/event-trace.js';
import { connectRedis, type RedisClient } from '../platform/redis/connection.js';
import { RedisKeys } from '../platform/redis/keys.js';
import { BacklogCounter } from './backlog.counter.js';
import { DeadLetterStore, type DeadLetter } from './dead-letter.store.js';
import { formatJobRef, type JobRef } from './delivery-queues.js';
import { planDelivery, type TracePlan } from './delivery-outcome.js';
import { activeJobsFor, BudgetClosedError, EventBudget, recentJobSize } from './event-budget.js';
import { decodeSizedEventJson, encodeEventJson, jobEventCount } from './job-data.js';
import { KableBatcher } from './kable-batcher.js';
import type { KableEvent } from '../segment/kable-event.js';
import { KableClient } from './kable/kable.client.js';
import { backoffDelay, RetryableDeliveryError, type SendResult } from './kable/kable.errors.js';
import { BACKOFF_TYPE, type DeliverJobData, QUEUES } from './queues.js';

export interface DeliveryJobResult {
  delivered: number;
  failed: number;
}

/** Full Kable requests' worth of events the active jobs may hold decoded: every request slot busy, the next batches ready. */
const BUDGET_REQUESTS = 4;

/**
 * The BullMQ worker that delivers `deliver` jobs to Kable: many jobs active at once (fitConcurrency),
 * their decoded events capped (EventBudget), their events sharing requests (KableBatcher), and
 * Kable's answers turned into what to do by planDelivery. A job completes only once Kable has
 * answered for all its events, so a crash hands it back and it is sent again with the same
 * transactionIds, which Kable deduplicates.
 */
@Injectable()
export class KableDeliveryWorker implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger('KableDelivery');
  /** One per shard's queue (REDIS_SHARDS), sharing one connection and one event budget. */
  private workers: Array<Worker<DeliverJobData, DeliveryJobResult>> = [];
  private connection?: RedisClient;
  private readonly client: KableClient;
  /** Carries each event as its JSON, as the job holds it (job-data.ts). */
  readonly batcher: KableBatcher<string>;
  /** Events the active jobs may hold decoded at once (EventBudget). */
  readonly budget: EventBudget;
  /** Recent events per job (recentJobSize); starts at ingest's largest job so a new worker does not take a whole backlog. */
  private eventsPerJob: number;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly deadLetters: DeadLetterStore,
    private readonly metrics: MetricsService,
    private readonly backlog: BacklogCounter,
    private readonly trace: EventTraceStore,
    private readonly keys: RedisKeys,
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
    // BullMQ shares this connection between the workers for commands and opens one more per worker to block on.
    const connection = (this.connection = connectRedis(this.config.redis, 'worker'));
    this.workers = this.keys.all().map((shard) => {
      const worker = new Worker<DeliverJobData, DeliveryJobResult>(QUEUES.delivery, (job) => this.process(shard, job), {
        connection,
        prefix: this.keys.bullPrefix(shard),
        concurrency: this.concurrencyFor(this.eventsPerJob),
        // Renewed at half this while a job waits for Kable; a crashed worker's jobs move on within about twice this.
        lockDuration: this.config.deliveryLockMs,
        stalledInterval: this.config.deliveryLockMs,
        maxStalledCount: 1_000,
        // Without a limiter BullMQ ignores the queue's rate limit (a 429's pause) in the other workers; this one never binds.
        limiter: { max: 1_000_000_000, duration: 1000 },
        settings: {
          backoffStrategy: (attemptsMade: number, type?: string, error?: Error) =>
            type === BACKOFF_TYPE
              ? backoffDelay(attemptsMade, maxDelay, error instanceof RetryableDeliveryError ? error.retryAfterMs : undefined)
              : 1000,
        },
      });
      worker.on('error', (error) => this.logger.error(`worker error: ${error.message}`));
      worker.on('failed', (job, error) => {
        if (job && !(error instanceof RetryableDeliveryError)) this.logger.warn(`job ${job.id} failed: ${error.message}`);
      });
      return worker;
    });
  }

  async onApplicationShutdown(): Promise<void> {
    // Send what is buffered and let the active jobs finish; what is unsent after one request timeout
    // is handed back, so a stop takes at most about two request timeouts.
    const closing = Promise.all(this.workers.map((worker) => worker.close()));
    // Jobs still waiting for room have sent nothing: they go back to the queue now.
    this.budget.close();
    this.batcher.flush();
    const giveUp = setTimeout(() => this.batcher.abandon('not sent before the worker stopped'), this.config.kable.requestTimeoutMs);
    await closing;
    clearTimeout(giveUp);
    await this.client.close();
    this.connection?.disconnect();
  }

  async process(shard: number, job: Job<DeliverJobData, DeliveryJobResult>): Promise<DeliveryJobResult> {
    const count = jobEventCount(job.data);
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
      return await this.deliver(shard, job);
    } finally {
      this.budget.release(held);
    }
  }

  /** Keeps as many jobs active as the event budget can use at the recent job size (activeJobsFor), shared between the shards' workers. */
  private fitConcurrency(events: number): void {
    this.eventsPerJob = recentJobSize(this.eventsPerJob, events);
    const wanted = this.concurrencyFor(this.eventsPerJob);
    for (const worker of this.workers) if (worker.concurrency !== wanted) worker.concurrency = wanted;
  }

  private concurrencyFor(eventsPerJob: number): number {
    const active = activeJobsFor(this.budget.limit, eventsPerJob, this.config.deliveryConcurrency);
    return Math.max(1, Math.ceil(active / this.keys.shards));
  }

  private async deliver(shard: number, job: Job<DeliverJobData, DeliveryJobResult>): Promise<DeliveryJobResult> {
    const { json: eventJson, bytes } = decodeSizedEventJson(job.data);
    const outcomes = await this.batcher.submit(eventJson, bytes);
    const now = Date.now();
    const plan = planDelivery(
      outcomes,
      {
        id: job.id === undefined ? undefined : formatJobRef({ shard, id: job.id }),
        queuedAt: job.timestamp,
        attemptsMade: job.attemptsMade,
        source: job.data.source,
        retried: job.data.retried,
      },
      now,
      { retryHorizonMs: this.config.kable.retryHorizonMs, traces: this.trace.enabled, jobRecords: this.trace.jobRecords },
    );
    // An event's JSON is parsed only when a record names it, not when a whole job goes through.
    const parsed: Array<KableEvent | undefined> = [];
    const event = (i: number): KableEvent => (parsed[i] ??= JSON.parse(eventAt(eventJson, i)) as KableEvent);

    await this.recordTrace({ shard, id: job.id ?? '' }, plan.trace, event);
    if (plan.delivered > 0) {
      this.metrics.delivered.inc(plan.delivered);
      this.metrics.lag.observe((now - job.timestamp) / 1000);
    }
    await this.keepDeadLetters(plan.deadLetters.map(({ index, letter }) => ({ event: event(index), ...letter })));
    // Events Kable answered for (delivered, or kept as dead letters) leave the backlog.
    await this.backlog
      .remove(shard, plan.delivered + plan.deadLetters.length)
      .catch((error: Error) => this.logger.warn(`could not count the backlog: ${error.message}`));

    switch (plan.end.kind) {
      case 'complete':
        return { delivered: plan.delivered, failed: plan.deadLetters.length };
      case 'fail':
        throw new UnrecoverableError(plan.end.message);
      case 'retry': {
        this.metrics.retried.inc(plan.retry.length);
        if (plan.rewrite) {
          // Only the events that still need Kable are tried again.
          const retry = plan.retry.map((i) => eventAt(eventJson, i));
          await job.updateData({ ...encodeEventJson(retry, job.data.source), retried: true });
        }
        if (plan.end.pauseQueueMs !== undefined) {
          // Kable asked us to slow down: pause every shard's queue for that long, without using an attempt.
          const pause = plan.end.pauseQueueMs;
          await Promise.all(this.workers.map((worker) => worker.rateLimit(pause)));
          throw Worker.RateLimitError();
        }
        throw new RetryableDeliveryError(plan.end.message, plan.end.retryAfterMs);
      }
    }
  }

  /** For GET /v1/events/:messageId; losing a trace record must not hold up delivery. */
  private async recordTrace(job: JobRef, trace: TracePlan, event: (i: number) => KableEvent): Promise<void> {
    let written: Promise<void> | undefined;
    if (trace.kind === 'job') written = this.trace.writeJob(job, trace.record);
    else if (trace.kind === 'events') written = this.trace.write(trace.records.map(([i, record]) => [event(i).transactionId, record]));
    await written?.catch((error: Error) => this.logger.warn(`could not record delivery traces: ${error.message}`));
  }

  private async keepDeadLetters(dead: DeadLetter[]): Promise<void> {
    const [first] = dead;
    if (first === undefined) return;
    await this.deadLetters.add(dead);
    for (const letter of dead) this.metrics.failed.inc({ status: String(letter.status ?? 'none') });
    const requestId = first.requestId ? ` (X-REQUEST-ID ${first.requestId})` : '';
    this.logger.warn(`${dead.length} event(s) kept as dead letters: ${first.reason}${requestId}`);
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

/** The JSON of the job's event at `i`; the batcher answers one outcome per event, so a plan's index is always there. */
function eventAt(eventJson: string[], i: number): string {
  const json = eventJson[i];
  if (json === undefined) throw new Error(`no event ${i} among the job's ${eventJson.length}`);
  return json;
}
