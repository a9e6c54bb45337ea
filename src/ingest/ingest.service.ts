import { Inject, Injectable, Logger } from '@nestjs/common';
import { DeliveryProducer } from '../delivery/delivery.producer.js';
import { EngageService } from '../engage/engage.service.js';
import type { AppConfig } from '../platform/config/config.js';
import { APP_CONFIG } from '../platform/config/config.module.js';
import { MetricsService } from '../platform/metrics/metrics.service.js';
import { REDIS, type RedisClient } from '../platform/redis/redis.module.js';
import { withTimeout } from '../platform/redis/with-timeout.js';
import { type DecisionContext, type DecisionSettings, decideMessage, decisionSettings } from '../segment/decision.js';
import type { KableEvent } from '../segment/kable-event.js';
import { isPlainObject, type MessageType } from '../segment/segment-message.js';
import { EventTraceStore, type IngestNote } from '../trace/event-trace.js';
import { DedupStore } from './dedup.store.js';
import { type Gathered, gather, type Rejection } from './gather.js';
import { GroupCommitter } from './group-commit.js';
import { planStore } from './store-plan.js';

export type { Rejection } from './gather.js';

export interface IngestResult {
  /** Valid messages: queued for Kable, deduplicated, skipped (not usage), or Engage audience membership (stored for the next audience sync). */
  accepted: number;
  /** Track events queued for Kable by this request. */
  queued: number;
  deduplicated: number;
  skipped: number;
  rejected: Rejection[];
}

export interface IngestInput {
  messages: unknown[];
  endpoint: string;
  /** The type implied by the endpoint (`/v1/track` → track). */
  defaultType?: MessageType;
  /** Encoded size of each message, when some may exceed 32 KB. */
  sizes?: Array<number | undefined>;
  /** Fields a `/v1/batch` body sets for all its messages (`context`, `integrations`). */
  shared?: Record<string, unknown>;
  /** The `sentAt` of a `/v1/batch` body: the device clock at sending, for messages without their own. */
  batchSentAt?: unknown;
  /** The request came from a browser (it had an `Origin` header): its write key is public. */
  fromBrowser: boolean;
  receivedAt: Date;
}

/** Thrown when the accepted messages could not be stored durably: the request must be answered 503. */
export class StorageUnavailableError extends Error {}

/** One request in a group commit. */
interface StoreRequest {
  events: KableEvent[];
  notes: IngestNote[];
  receivedAt: Date;
}

/**
 * One store at a time per process: requests arriving meanwhile are stored together (up to
 * GROUP_MAX_EVENTS per job), and two requests of this process with the same messageId cannot both
 * pass the dedup check (only replicas can still race).
 */
const GROUP_IN_FLIGHT = 1;
const GROUP_MAX_EVENTS = 1000;

/** Longest wait for Redis before answering 503; a store that completes later is queued again on the retry (Kable discards the copy). */
const STORE_TIMEOUT_MS = 3000;

/** Decides each message, then stores what is accepted durably: membership with Engage, events on the delivery queue. */
@Injectable()
export class IngestService {
  private readonly logger = new Logger('Ingest');
  private readonly committer: GroupCommitter<StoreRequest, number>;
  /** Compiled once (KABLE_EVENTS). */
  private readonly settings: DecisionSettings;

  constructor(
    @Inject(APP_CONFIG) config: AppConfig,
    private readonly producer: DeliveryProducer,
    private readonly dedup: DedupStore,
    private readonly traces: EventTraceStore,
    private readonly metrics: MetricsService,
    @Inject(REDIS) private readonly redis: RedisClient,
    private readonly engage: EngageService,
  ) {
    this.settings = decisionSettings(config.kable);
    this.committer = new GroupCommitter((requests) => this.commit(requests), {
      maxInFlight: GROUP_IN_FLIGHT,
      maxWeight: GROUP_MAX_EVENTS,
      weight: (request) => request.events.length,
      slotTimeoutMs: STORE_TIMEOUT_MS,
    });
  }

  async ingest(input: IngestInput): Promise<IngestResult> {
    const { messages, receivedAt } = input;
    const ctx: DecisionContext = {
      receivedAt,
      defaultType: input.defaultType,
      batchSentAt: input.batchSentAt,
      fromBrowser: input.fromBrowser,
    };
    // analytics-node sets no shared fields: skip the copy.
    const shared = input.shared && Object.values(input.shared).some(isPlainObject) ? input.shared : undefined;
    const decisions = messages.map((raw, i) => decideMessage(shared ? withShared(raw, shared) : raw, this.settings, ctx, input.sizes?.[i]));
    const request = gather(messages, decisions, receivedAt, this.traces.enabled);
    let result: IngestResult | undefined;
    try {
      const { queued, skippedByEngage } = await this.store(request, receivedAt);
      result = {
        accepted: messages.length - request.rejected.length,
        queued,
        deduplicated: request.repeated + request.events.length - queued,
        skipped: request.skipped.length + skippedByEngage,
        rejected: request.rejected,
      };
      return result;
    } finally {
      this.count(input.endpoint, messages.length, request, result);
    }
  }

  /** Every ingest metric; `result` is undefined when the request could not be stored (answered 503). Engage counts its own skips. */
  private count(endpoint: string, received: number, request: Gathered, result: IngestResult | undefined): void {
    this.metrics.received.inc({ endpoint }, received);
    for (const { code } of request.rejected) this.metrics.rejected.inc({ reason: code });
    for (const labels of request.skipped) this.metrics.skipped.inc(labels);
    if (!result) return;
    if (result.deduplicated > 0) this.metrics.deduplicated.inc(result.deduplicated);
    this.metrics.accepted.inc(result.accepted);
  }

  private async store(request: Gathered, receivedAt: Date): Promise<{ queued: number; skippedByEngage: number }> {
    const { events, memberships, notes } = request;
    // Fail fast: BullMQ's add would wait for a connection.
    if ((memberships.length > 0 || events.length > 0) && this.redis.status !== 'ready') {
      throw new StorageUnavailableError(`Redis is ${this.redis.status}`);
    }
    const skippedByEngage = memberships.length > 0 ? await this.engage.record(memberships).catch(unavailable) : 0;
    if (events.length === 0 && notes.length === 0) return { queued: 0, skippedByEngage };
    const queued = await withTimeout(
      this.committer.submit({ events, notes, receivedAt }),
      STORE_TIMEOUT_MS,
      () => new StorageUnavailableError(`Redis did not answer within ${STORE_TIMEOUT_MS} ms`),
    ).catch(unavailable);
    return { queued, skippedByEngage };
  }

  /** Stores one group of requests (GroupCommitter): check, queue what is new as one job, remember it. Resolves with what each request queued. */
  private async commit(requests: StoreRequest[]): Promise<number[]> {
    // Trace notes are not the record of acceptance: written beside it, and losing them fails no request.
    const notes = this.traces
      .writeNotes(requests.flatMap((r) => r.notes))
      .catch((error: Error) => this.logger.warn(`could not record trace notes: ${error.message}`));
    const check = await this.dedup.check(requests.flatMap((r) => r.events.map((e) => e.transactionId)));
    const plan = planStore(requests, check.seen);
    const job = await this.producer.enqueueUncounted(plan.events, 'ingest', this.producer.nextShard());
    // Queued but not remembered: a retry is queued again with the same transactionId, which Kable
    // discards; the backlog counter, counted in the same command, heals when the queue is next empty.
    await this.dedup
      .remember(check, job, plan.runs, plan.events.length)
      .catch((error: Error) => this.logger.warn(`could not record messageIds for deduplication: ${error.message}`));
    await notes;
    return plan.queued;
  }
}

function unavailable(error: unknown): never {
  if (error instanceof StorageUnavailableError) throw error;
  throw new StorageUnavailableError(error instanceof Error ? error.message : String(error));
}

/** A message with the fields a `/v1/batch` body sets for all its messages; its own win, objects merged one level. */
function withShared(raw: unknown, shared: Record<string, unknown>): unknown {
  if (!isPlainObject(raw)) return raw;
  const out: Record<string, unknown> = { ...raw };
  for (const [key, value] of Object.entries(shared)) {
    if (!isPlainObject(value)) continue;
    const own = raw[key];
    out[key] = isPlainObject(own) ? { ...value, ...own } : (own ?? value);
  }
  return out;
}
